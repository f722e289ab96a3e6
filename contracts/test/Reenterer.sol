// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title Test only: an account that acts through `exec` and, once armed, calls back into a target when it
/// receives tokens; it records whether the nested call succeeded and what it returned.
contract Reenterer {
    address public target;
    bytes public data;
    bool public armed;
    bool public attempted;
    bool public reentered;
    bytes public result;

    function arm(address target_, bytes calldata data_) external {
        target = target_;
        data = data_;
        armed = true;
    }

    function exec(address to, bytes calldata call) external returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call(call);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    function approve(IERC20 token, address spender, uint256 amount) external {
        token.approve(spender, amount);
    }

    function onTokenTransfer(address, uint256) external {
        if (!armed) return;
        armed = false;
        attempted = true;
        (reentered, result) = target.call(data);
    }
}
