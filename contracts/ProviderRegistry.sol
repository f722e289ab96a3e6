// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @dev The settlement contract's escrow credit for slashed stake (Settlement.creditSlash).
interface ISlashEscrow {
    function creditSlash(address[] calldata requesters, uint256[] calldata amounts) external;
}

/// @dev The time-lock that administers the registry (OpenZeppelin TimelockController).
interface IMinDelay {
    function getMinDelay() external view returns (uint256);
}

/// @title Provider registry: stake, unbonding, stake locked against open tasks, slashing, staking rewards
/// @notice Roles: DEFAULT_ADMIN_ROLE is the timelock (governance) and alone changes parameters, roles and
/// unpauses; GUARDIAN_ROLE may only pause; SETTLEMENT_ROLE (the settlement contract) locks and unlocks stake
/// for tasks; SLASHER_ROLE (the verifier, and governance) slashes.
///
/// Slashing rule: a slasher that is not governance may take at most the provider's stake locked for open tasks
/// (what it put at risk) and at most `maxSlash` per call; the lock shrinks by what was taken. Governance (the
/// timelock, so only by a proposal that waited out the time-lock delay) may take any stake, unbonding included.
/// The verifier keeps `slashVerifierBps` of a slash; the rest is credited to the named requesters' escrow in
/// the settlement contract (their `free`, withdrawable), never transferred to arbitrary addresses.
///
/// Emission schedule: rewards flow at `emissionRate` tokens per second, shared pro rata to active stake
/// (not to unbonding stake), while any stake exists, until `emitted` reaches `emissionCap`. The cap can never
/// exceed the reserve funded into this contract (`rewardsFunded`), so every emitted token is backed; the
/// token has a fixed supply and nothing is minted.
contract ProviderRegistry is AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");

    /// @dev Task records in the settlement contract keep provider ids in 24 bits.
    uint256 public constant MAX_PROVIDERS = (1 << 24) - 1;
    uint256 public constant MAX_UNBONDING_DELAY = 365 days;
    uint256 public constant MAX_SLASH_VERIFIER_BPS = 5_000;

    struct Provider {
        uint256 staked; // active stake, earns rewards, can be locked
        uint256 locked; // part of `staked` held against open tasks
        uint256 unbonding; // left `staked`, withdrawable at `unbondAt`, still slashable
        uint256 unbondAt;
        uint256 rewardPerTokenPaid;
        uint256 rewards; // accrued, not yet claimed
    }

    IERC20 public immutable token;

    mapping(address => Provider) private _providers;
    mapping(address => uint256) public idOf; // 0: not registered
    address[] private _byId; // id - 1 => provider

    uint256 public totalStaked;
    uint256 public totalUnbonding;

    // Parameters, changed only by governance.
    uint256 public minStake;
    uint256 public unbondingDelay;
    uint256 public slashVerifierBps;
    uint256 public emissionRate;
    uint256 public emissionCap;
    uint256 public maxSlash; // wei, per slash by a non-governance slasher
    ISlashEscrow public settlement; // where requesters' slash shares are credited

    // Reward accounting (rewards per staked token, scaled by 1e18).
    uint256 public rewardPerTokenStored;
    uint256 public lastAccrual;
    uint256 public emitted;
    uint256 public rewardsFunded;
    uint256 public rewardsClaimed;

    event ProviderRegistered(address indexed provider, uint256 indexed id);
    event Staked(address indexed provider, uint256 amount, uint256 staked);
    event UnbondRequested(address indexed provider, uint256 amount, uint256 unbondAt);
    event Unbonded(address indexed provider, uint256 amount);
    event StakeLocked(address indexed provider, uint256 amount, uint256 locked);
    event StakeUnlocked(address indexed provider, uint256 amount, uint256 locked);
    event Slashed(
        address indexed provider,
        bytes32 indexed evidence,
        uint256 amount,
        address verifier,
        uint256 verifierAmount,
        address[] requesters,
        uint256[] requesterAmounts
    );
    event RewardsFunded(address indexed from, uint256 amount);
    event RewardsAccrued(uint256 amount, uint256 rewardPerToken);
    event RewardsClaimed(address indexed provider, uint256 amount);
    event ParameterSet(bytes32 indexed name, uint256 value);

    error ZeroAmount();
    error BelowMinimumStake(uint256 staked, uint256 minimum);
    error NotRegistered(address provider);
    error InsufficientFreeStake(address provider, uint256 free, uint256 wanted);
    error NothingUnbonding(address provider);
    error StillUnbonding(address provider, uint256 unbondAt);
    error SlashAboveStake(address provider, uint256 slashable, uint256 amount);
    error SlashSplitMismatch(uint256 expected, uint256 given);
    error LengthMismatch();
    error ParameterOutOfRange(bytes32 name, uint256 value);
    error TooManyProviders();
    error SlashAboveLimit(address provider, uint256 limit, uint256 amount);
    error NoSettlement();

    constructor(
        IERC20 token_,
        address governance,
        uint256 minStake_,
        uint256 unbondingDelay_,
        uint256 slashVerifierBps_,
        uint256 emissionRate_,
        uint256 maxSlash_
    ) {
        token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
        _setMinStake(minStake_);
        _setUnbondingDelay(unbondingDelay_);
        _setSlashVerifierBps(slashVerifierBps_);
        _setMaxSlash(maxSlash_);
        emissionRate = emissionRate_;
        emit ParameterSet("emissionRate", emissionRate_);
        lastAccrual = block.timestamp;
    }

    // ---------------------------------------------------------------- views

    function provider(address p) external view returns (Provider memory) {
        return _providers[p];
    }

    function providerAt(uint256 id) external view returns (address) {
        return _byId[id - 1];
    }

    function providerCount() external view returns (uint256) {
        return _byId.length;
    }

    function freeStake(address p) public view returns (uint256) {
        Provider storage s = _providers[p];
        return s.staked - s.locked;
    }

    /// @notice Rewards `p` could claim now, including what accrued since the last state change.
    function earned(address p) external view returns (uint256) {
        (uint256 rpt,) = _pendingAccrual();
        Provider storage s = _providers[p];
        return s.rewards + (s.staked * (rpt - s.rewardPerTokenPaid)) / 1e18;
    }

    // --------------------------------------------------------------- staking

    /// @notice Adds `amount` to the caller's stake; the first stake registers the caller as a provider and
    /// must reach the minimum stake.
    function stake(uint256 amount) external nonReentrant whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        _accrue();
        Provider storage s = _providers[msg.sender];
        _settleRewards(s);
        uint256 staked = s.staked + amount;
        if (staked < minStake) revert BelowMinimumStake(staked, minStake);
        if (idOf[msg.sender] == 0) {
            if (_byId.length >= MAX_PROVIDERS) revert TooManyProviders();
            _byId.push(msg.sender);
            idOf[msg.sender] = _byId.length;
            emit ProviderRegistered(msg.sender, _byId.length);
        }
        s.staked = staked;
        totalStaked += amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit Staked(msg.sender, amount, staked);
    }

    /// @notice Moves `amount` of unlocked stake to unbonding; it can be withdrawn after the unbonding delay
    /// (counted from this request) and stays slashable until then. What remains staked must be zero or at least
    /// the minimum stake.
    function requestUnbond(uint256 amount) external nonReentrant whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        _accrue();
        Provider storage s = _providers[msg.sender];
        _settleRewards(s);
        uint256 free = s.staked - s.locked;
        if (amount > free) revert InsufficientFreeStake(msg.sender, free, amount);
        uint256 left = s.staked - amount;
        if (left != 0 && left < minStake) revert BelowMinimumStake(left, minStake);
        s.staked = left;
        s.unbonding += amount;
        s.unbondAt = block.timestamp + unbondingDelay;
        totalStaked -= amount;
        totalUnbonding += amount;
        emit UnbondRequested(msg.sender, amount, s.unbondAt);
    }

    function withdrawUnbonded() external nonReentrant whenNotPaused {
        Provider storage s = _providers[msg.sender];
        uint256 amount = s.unbonding;
        if (amount == 0) revert NothingUnbonding(msg.sender);
        if (block.timestamp < s.unbondAt) revert StillUnbonding(msg.sender, s.unbondAt);
        s.unbonding = 0;
        totalUnbonding -= amount;
        token.safeTransfer(msg.sender, amount);
        emit Unbonded(msg.sender, amount);
    }

    // ---------------------------------------------------------------- rewards

    /// @notice Adds `amount` to the reward reserve that emission is paid from. Anyone may fund it.
    function fundRewards(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        rewardsFunded += amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit RewardsFunded(msg.sender, amount);
    }

    function claimRewards() external nonReentrant whenNotPaused returns (uint256 amount) {
        _accrue();
        Provider storage s = _providers[msg.sender];
        _settleRewards(s);
        amount = s.rewards;
        if (amount == 0) revert ZeroAmount();
        s.rewards = 0;
        rewardsClaimed += amount;
        token.safeTransfer(msg.sender, amount);
        emit RewardsClaimed(msg.sender, amount);
    }

    // ------------------------------------------------------ settlement hooks

    /// @notice Locks `amount` of the provider's free stake against a task; returns the provider id.
    function lock(address p, uint256 amount) external onlyRole(SETTLEMENT_ROLE) whenNotPaused returns (uint256 id) {
        id = idOf[p];
        Provider storage s = _providers[p];
        if (id == 0) revert NotRegistered(p);
        if (s.staked < minStake) revert BelowMinimumStake(s.staked, minStake);
        uint256 free = s.staked - s.locked;
        if (amount > free) revert InsufficientFreeStake(p, free, amount);
        s.locked += amount;
        emit StakeLocked(p, amount, s.locked);
    }

    /// @notice Releases a task's lock. A slash may already have cut the lock down with the stake, so this never
    /// goes below zero.
    function unlock(address p, uint256 amount) external onlyRole(SETTLEMENT_ROLE) {
        Provider storage s = _providers[p];
        uint256 cut = amount > s.locked ? s.locked : amount;
        s.locked -= cut;
        emit StakeUnlocked(p, cut, s.locked);
    }

    // --------------------------------------------------------------- slashing

    /// @notice Slashes `amount` from the provider's stake, with `evidence` the hash of the evidence. A slasher
    /// other than governance may take at most the stake locked for tasks and `maxSlash`; governance may take any
    /// stake (active first, then unbonding). The caller receives `slashVerifierBps` of it; the rest is credited
    /// to the affected requesters' escrow in the settlement contract, their amounts adding up to exactly that rest.
    function slash(
        address p,
        uint256 amount,
        bytes32 evidence,
        address[] calldata requesters,
        uint256[] calldata requesterAmounts
    ) external onlyRole(SLASHER_ROLE) nonReentrant {
        if (requesters.length != requesterAmounts.length) revert LengthMismatch();
        uint256 verifierAmount = _takeSlash(p, amount, requesterAmounts, hasRole(DEFAULT_ADMIN_ROLE, msg.sender));
        emit Slashed(p, evidence, amount, msg.sender, verifierAmount, requesters, requesterAmounts);
        if (verifierAmount != 0) token.safeTransfer(msg.sender, verifierAmount);
        uint256 rest = amount - verifierAmount;
        if (rest != 0) {
            ISlashEscrow escrow = settlement;
            if (address(escrow) == address(0)) revert NoSettlement();
            token.safeTransfer(address(escrow), rest);
            escrow.creditSlash(requesters, requesterAmounts);
        }
    }

    /// @dev Checks the bound and the split and takes `amount` from the stake (governance: active first, then
    /// unbonding; others: locked stake only); returns the verifier's share.
    function _takeSlash(address p, uint256 amount, uint256[] calldata requesterAmounts, bool governance)
        private
        returns (uint256 verifierAmount)
    {
        if (amount == 0) revert ZeroAmount();
        if (idOf[p] == 0) revert NotRegistered(p);
        _accrue();
        Provider storage s = _providers[p];
        _settleRewards(s);
        if (governance) {
            uint256 slashable = s.staked + s.unbonding;
            if (amount > slashable) revert SlashAboveStake(p, slashable, amount);
        } else {
            uint256 limit = s.locked < maxSlash ? s.locked : maxSlash;
            if (amount > limit) revert SlashAboveLimit(p, limit, amount);
            // What was at risk is spent: the lock shrinks with it (locked <= staked, so all of it is active).
            s.locked -= amount;
        }
        verifierAmount = (amount * slashVerifierBps) / 10_000;
        uint256 sum;
        for (uint256 i; i < requesterAmounts.length; ++i) {
            sum += requesterAmounts[i];
        }
        if (sum != amount - verifierAmount) revert SlashSplitMismatch(amount - verifierAmount, sum);
        uint256 fromStaked = amount > s.staked ? s.staked : amount;
        s.staked -= fromStaked;
        totalStaked -= fromStaked;
        s.unbonding -= amount - fromStaked;
        totalUnbonding -= amount - fromStaked;
        // Locked stake is what a slash is for; the lock shrinks with the stake so locked <= staked holds.
        if (s.locked > s.staked) s.locked = s.staked;
    }

    // -------------------------------------------------------------- governance

    function setMinStake(uint256 value) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMinStake(value);
    }

    /// @notice Sets the unbonding delay. Set by a time-lock (governance), it may not exceed the time-lock's delay,
    /// so providers can always leave before a parameter change they were warned of takes effect.
    function setUnbondingDelay(uint256 value) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 delay = _minDelayOf(msg.sender);
        if (value > delay) revert ParameterOutOfRange("unbondingDelay", value);
        _setUnbondingDelay(value);
    }

    /// @dev The caller's time-lock delay if it is a time-lock, else no bound.
    function _minDelayOf(address a) private view returns (uint256) {
        if (a.code.length == 0) return type(uint256).max;
        try IMinDelay(a).getMinDelay() returns (uint256 d) {
            return d;
        } catch {
            return type(uint256).max;
        }
    }

    function setSlashVerifierBps(uint256 value) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setSlashVerifierBps(value);
    }

    function setMaxSlash(uint256 value) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMaxSlash(value);
    }

    /// @notice The settlement contract whose escrow receives requesters' slash shares.
    function setSettlement(address value) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (value == address(0)) revert ParameterOutOfRange("settlement", 0);
        settlement = ISlashEscrow(value);
        emit ParameterSet("settlement", uint256(uint160(value)));
    }

    /// @notice Sets the emission rate (tokens per second) and cap (total ever emitted). The cap may not go
    /// below what was already emitted nor above the funded reserve.
    function setEmission(uint256 rate, uint256 cap) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _accrue();
        if (cap < emitted || cap > rewardsFunded) revert ParameterOutOfRange("emissionCap", cap);
        emissionRate = rate;
        emissionCap = cap;
        emit ParameterSet("emissionRate", rate);
        emit ParameterSet("emissionCap", cap);
    }

    function pause() external {
        if (!hasRole(GUARDIAN_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert AccessControlUnauthorizedAccount(msg.sender, GUARDIAN_ROLE);
        }
        _pause();
    }

    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // --------------------------------------------------------------- internals

    function _setMinStake(uint256 value) private {
        if (value == 0) revert ParameterOutOfRange("minStake", value);
        minStake = value;
        emit ParameterSet("minStake", value);
    }

    function _setUnbondingDelay(uint256 value) private {
        if (value > MAX_UNBONDING_DELAY) revert ParameterOutOfRange("unbondingDelay", value);
        unbondingDelay = value;
        emit ParameterSet("unbondingDelay", value);
    }

    function _setMaxSlash(uint256 value) private {
        if (value == 0) revert ParameterOutOfRange("maxSlash", value);
        maxSlash = value;
        emit ParameterSet("maxSlash", value);
    }

    function _setSlashVerifierBps(uint256 value) private {
        if (value > MAX_SLASH_VERIFIER_BPS) revert ParameterOutOfRange("slashVerifierBps", value);
        slashVerifierBps = value;
        emit ParameterSet("slashVerifierBps", value);
    }

    function _pendingAccrual() private view returns (uint256 rpt, uint256 amount) {
        rpt = rewardPerTokenStored;
        if (totalStaked == 0 || block.timestamp <= lastAccrual) return (rpt, 0);
        amount = (block.timestamp - lastAccrual) * emissionRate;
        uint256 room = emissionCap - emitted;
        if (amount > room) amount = room;
        rpt += (amount * 1e18) / totalStaked;
    }

    /// @dev Emission only flows while someone stakes; time with no stake emits nothing and the cap is kept.
    function _accrue() private {
        (uint256 rpt, uint256 amount) = _pendingAccrual();
        lastAccrual = block.timestamp;
        if (amount == 0) return;
        rewardPerTokenStored = rpt;
        emitted += amount;
        emit RewardsAccrued(amount, rpt);
    }

    function _settleRewards(Provider storage s) private {
        uint256 rpt = rewardPerTokenStored;
        s.rewards += (s.staked * (rpt - s.rewardPerTokenPaid)) / 1e18;
        s.rewardPerTokenPaid = rpt;
    }
}
