// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title NVDAx timelock
/// @notice OpenZeppelin's TimelockController unchanged; it owns every parameter of the other contracts.
/// The governor is its only proposer, canceller and executor; after wiring, the deployer renounces its admin
/// role so the timelock administers itself (a delay change is itself a timelocked proposal).
contract NVDAxTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
