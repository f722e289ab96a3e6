// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

interface ITokenReceiver {
    function onTokenTransfer(address from, uint256 value) external;
}

/// @title Test only: an ERC-20 that calls the recipient on every transfer to a contract (as ERC-777 hooks do),
/// handing control to a possibly malicious receiver in the middle of the sender's function.
contract HookToken is ERC20 {
    mapping(address => bool) public hooked;

    constructor(address holder, uint256 supply) ERC20("Hook", "HOOK") {
        _mint(holder, supply);
    }

    /// @notice The caller asks to be called on every transfer it receives.
    function hookMe() external {
        hooked[msg.sender] = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (hooked[to]) ITokenReceiver(to).onTokenTransfer(from, value);
    }
}
