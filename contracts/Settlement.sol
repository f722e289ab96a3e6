// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

interface IProviderRegistry {
    function lock(address provider, uint256 amount) external returns (uint256 id);
    function unlock(address provider, uint256 amount) external;
    function providerAt(uint256 id) external view returns (address);
    function idOf(address provider) external view returns (uint256);
}

/// @title Escrow, requester-signed tasks and batch settlement of metered GPU usage
/// @notice Roles: DEFAULT_ADMIN_ROLE is the timelock (governance): parameters, roles, unpause, disputes;
/// COORDINATOR_ROLE (the hub operator) opens tasks, settles batches, anchors training lineages and closes tasks;
/// VERIFIER_ROLE disputes settled items within the dispute window; GUARDIAN_ROLE may only pause. A requester closes its own tasks
/// (closeOwnTasks, one period of notice); the registry credits slash shares to requesters' escrow (creditSlash).
/// Time paused does not count against settle deadlines (refunds and stake release use the same clock).
///
/// Money flow, in token wei unless said otherwise:
/// - a requester deposits into its escrow (`free`);
/// - a task is opened once with the requester's EIP-712 signature; it locks `cap * UNIT * span` from `free`
///   (`cap`: the per-period price cap from the signed price per GPU-hour and GPU count; `span`: the periods
///   the signed maxTotal and maxDuration allow) and locks a share of the provider's stake;
/// - a settle item (task, period, amount) releases that period's lock: `amount` goes to the provider
///   (minus the verifier fee) as pending earnings, `cap - amount` back to the requester's `free`;
///   each (task, period) is settled at most once, only within the task's periods, after the period ended
///   and before its settle deadline, and never above `cap`; so a task never spends more than it locked;
/// - pending earnings become withdrawable only after the dispute window; until then the verifier or
///   governance can reverse an item, which returns its whole amount to the requester;
/// - closing a task early returns the lock of its future periods; periods never settled by their deadline
///   can be refunded by anyone; the provider's stake lock is released after the last dispute window;
/// - a signed task may name the one provider it may be opened on (address(0): any).
///
/// Amounts in settle items and task caps are in UNIT (1e12 wei, a millionth of a token) so an item packs into
/// 12 bytes of calldata.
contract Settlement is AccessControl, Pausable, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant COORDINATOR_ROLE = keccak256("COORDINATOR_ROLE");
    bytes32 public constant VERIFIER_ROLE = keccak256("VERIFIER_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    uint256 public constant UNIT = 1e12;
    uint256 public constant ITEM_BYTES = 12;
    uint256 public constant MAX_FEE_BPS = 2_000;
    uint256 public constant MIN_WINDOW = 60;
    uint256 public constant MAX_WINDOW = 90 days;
    uint256 public constant MIN_PERIOD_SECONDS = 60;
    /// @notice Notice a requester gives when it closes its own task: the period after the current one stays.
    uint256 public constant OWNER_CLOSE_NOTICE_PERIODS = 1;

    bytes32 public constant SLA_TYPEHASH = keccak256(
        "SLA(uint8 tier,uint32 maxLatencyMs,uint64 maxDurationSeconds,uint256 priceCap,string[] regions,string[] dataResidency)"
    );
    bytes32 public constant CONFIDENTIAL_TYPEHASH =
        keccak256("Confidential(bool required,string[] teeTypes,bool gpuAttestation)");
    bytes32 public constant TASK_TYPEHASH = keccak256(
        "Task(address requester,address provider,bytes32 hubJob,bytes32 modelHash,SLA sla,Confidential confidential,uint16 retries,uint32 gpus,uint256 maxTotal,uint256 nonce,uint64 deadline)"
        "Confidential(bool required,string[] teeTypes,bool gpuAttestation)"
        "SLA(uint8 tier,uint32 maxLatencyMs,uint64 maxDurationSeconds,uint256 priceCap,string[] regions,string[] dataResidency)"
    );

    /// @notice The signed SLA. String lists arrive as their EIP-712 encoding (keccak of the concatenated
    /// keccaks of the strings), which is what the signature covers; the contract does not read them.
    struct Sla {
        uint8 tier; // 0 BestEffort, 1 Reserved, 2 Premium
        uint32 maxLatencyMs; // 0: none
        uint64 maxDurationSeconds; // 0: none
        uint256 priceCap; // wei per GPU-hour
        bytes32 regionsHash;
        bytes32 dataResidencyHash;
    }

    struct Confidential {
        bool required;
        bytes32 teeTypesHash;
        bool gpuAttestation;
    }

    struct Task {
        address requester;
        address provider; // the provider the requester allows; address(0): any provider the coordinator picks
        bytes32 hubJob; // keccak256("namespace/name") of the job on the hub
        bytes32 modelHash;
        Sla sla;
        Confidential confidential;
        uint16 retries;
        uint32 gpus;
        uint256 maxTotal; // wei
        uint256 nonce;
        uint64 deadline; // unix seconds; the signature is refused after it
    }

    struct OpenRequest {
        Task task;
        bytes signature;
        address provider;
    }

    /// @dev One storage slot, read once per batch.
    struct Params {
        uint16 feeBps;
        uint16 stakeLockBps;
        uint32 disputeWindow;
        uint32 settleWindow;
        address feeRecipient;
    }

    struct Escrow {
        uint128 free;
        uint128 locked;
    }

    IERC20 public immutable token;
    IProviderRegistry public immutable registry;
    uint256 public immutable periodSeconds;
    uint256 public immutable genesis;

    Params public params;

    mapping(address => uint256) public requesterId; // 0: none
    address[] private _requesters; // id - 1 => requester
    mapping(uint256 => Escrow) private _escrows; // by requester id

    /// @dev Task records, two per slot (even index in the low 128 bits). A record, high to low bits:
    /// requester id (24) | provider id (24) | cap per period in UNIT (40) | start period (24) | span (16).
    /// Fixed-size arrays, not mappings: the settle loop finds a slot by addition instead of a keccak.
    uint256[1 << 31] private _taskSlots;
    uint256 public taskCount;
    /// @dev Per task, packed: 1 << 255 (opened, not released) | dispute window at open (32 bits, at 223..192) |
    /// wei of provider stake held (low 192 bits). 0 once released. See taskStakeLockOf.
    mapping(uint256 => uint256) public taskStakeLock;

    /// @dev Settled bitmap: word (period << 32 | task >> 8), bit (task & 255). Tasks settled together for the
    /// same period share a word, so a batch writes one slot per 256 tasks.
    uint256[1 << 56] private _settled;

    /// @dev Earnings in UNIT, packed: available (64) | amount0 (64) | release0 (32) | amount1 (64) | release1 (32).
    /// Releases are multiples of the dispute window, so at most two release times are pending at once.
    mapping(uint256 => uint256) private _earnings; // by provider id
    uint256 private _feeEarnings;

    mapping(uint256 => bytes32) public batchCommitment; // keccak256(abi.encode(itemsHash, releaseAt, feeBps))
    uint256 public batchCount;
    mapping(uint256 => uint256) private _disputed; // word (batch << 32 | index >> 8), bit (index & 255)

    mapping(address => mapping(uint256 => bool)) public nonceUsed;

    /// @dev Finished pauses, each start << 128 | end (seconds), oldest first; `_pausedSince` is the running one.
    /// Settle deadlines are extended by the time paused since the period ended (see _cutoff).
    uint256[] private _pauses;
    uint256 private _pausedSince;

    /// @dev Per task: the checkpoint lineage anchor of the training job it paid for (anchorLineages); 0: none.
    mapping(uint256 => bytes32) private _lineage;

    /// @notice One training job's lineage at its end: `head` is the anchor the operator derives from the job's
    /// status.checkpoints (docs/training.md), committing to every checkpoint record; `step` is the newest
    /// checkpoint's step (the anchor commits to it too; stored in the event only).
    struct LineageAnchor {
        uint256 task;
        bytes32 head;
        uint64 step;
    }

    event Deposited(address indexed requester, uint256 indexed requesterId, address from, uint256 amount);
    event EscrowWithdrawn(address indexed requester, uint256 amount);
    /// @notice `record` is the task record as stored (see taskRecord): requester id (24) | provider id (24) |
    /// cap per period in UNIT (40) | start period (24) | span in periods (16). `locked` is cap * UNIT * span.
    event TaskOpened(
        uint256 indexed task,
        address indexed requester,
        address indexed provider,
        bytes32 taskHash,
        bytes32 hubJob,
        uint256 nonce,
        uint256 record,
        uint256 locked,
        uint256 stakeLocked
    );
    event TaskClosed(uint256 indexed task, uint256 span, uint256 refunded);
    event PeriodsRefunded(uint256 indexed task, uint256[] periods, uint256 refunded);
    event TaskStakeReleased(uint256 indexed task, address indexed provider, uint256 amount);
    /// @notice One event per batch; the items are in the calldata (their keccak is `itemsHash`). Amounts in wei.
    event BatchSettled(
        uint256 indexed batchId,
        bytes32 itemsHash,
        uint256 items,
        uint256 charged,
        uint256 fees,
        uint256 refunded,
        uint256 releaseAt,
        uint256 feeBps
    );
    event ItemsDisputed(uint256 indexed batchId, bytes32 indexed reason, uint256[] indexes, uint256 reversed);
    event EarningsWithdrawn(address indexed provider, uint256 indexed providerId, uint256 amount);
    event FeesWithdrawn(address indexed recipient, uint256 amount);
    event NonceCancelled(address indexed requester, uint256 nonce);
    event ParameterSet(bytes32 indexed name, uint256 value);
    event SlashCredited(address indexed requester, uint256 indexed requesterId, uint256 amount);
    event LineageAnchored(uint256 indexed task, bytes32 head, uint64 step);

    error ZeroAmount();
    error NoEscrow(address requester);
    error InsufficientEscrow(address requester, uint256 free, uint256 wanted);
    error SignatureExpired(uint256 deadline);
    error NonceAlreadyUsed(address requester, uint256 nonce);
    error BadSignature(address requester);
    error CapOutOfRange(uint256 capUnits);
    error NoPeriods();
    error TooManyIds();
    error TooManyRequesters(uint256 max);
    error ProviderNotAllowed(address signed, address provider);
    error NotTaskOwner(uint256 task, address account);
    error NotRegistry(address account);
    error LengthMismatch();
    error BadItems(uint256 length);
    error UnknownTask(uint256 task);
    error PeriodOutOfRange(uint256 task, uint256 period);
    error AmountAboveCap(uint256 task, uint256 period);
    error AlreadySettled(uint256 task, uint256 period);
    error BadBatch(uint256 batchId);
    error DisputeWindowOver(uint256 batchId, uint256 releaseAt);
    error AlreadyDisputed(uint256 batchId, uint256 index);
    error RefundTooEarly(uint256 task, uint256 period);
    error StakeLockedUntil(uint256 task, uint256 time);
    error NotProvider(address account);
    error NothingToWithdraw();
    error NotFeeRecipient(address account);
    error ParameterOutOfRange(bytes32 name, uint256 value);
    error EarningsOverflow();
    error LineageAlreadyAnchored(uint256 task, bytes32 head);
    error ZeroLineageHead(uint256 task);

    constructor(
        IERC20 token_,
        IProviderRegistry registry_,
        address governance,
        uint256 periodSeconds_,
        Params memory params_
    ) EIP712("NVDAx Settlement", "1") {
        if (periodSeconds_ < MIN_PERIOD_SECONDS) revert ParameterOutOfRange("periodSeconds", periodSeconds_);
        token = token_;
        registry = registry_;
        periodSeconds = periodSeconds_;
        genesis = block.timestamp;
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
        _setFeeBps(params_.feeBps);
        _setStakeLockBps(params_.stakeLockBps);
        _setDisputeWindow(params_.disputeWindow);
        _setSettleWindow(params_.settleWindow);
        _setFeeRecipient(params_.feeRecipient);
    }

    // ------------------------------------------------------------------ views

    function escrowOf(address requester) external view returns (uint256 free, uint256 locked) {
        uint256 id = requesterId[requester];
        if (id == 0) return (0, 0);
        Escrow memory e = _escrows[id];
        return (e.free, e.locked);
    }

    function requesterAt(uint256 id) external view returns (address) {
        return _requesters[id - 1];
    }

    function requesterCount() external view returns (uint256) {
        return _requesters.length;
    }

    /// @notice The period now running (periods are numbered from deployment).
    function currentPeriod() public view returns (uint256) {
        return (block.timestamp - genesis) / periodSeconds;
    }

    function taskRecord(uint256 task)
        external
        view
        returns (uint256 reqId, uint256 provId, uint256 capPerPeriod, uint256 startPeriod, uint256 span)
    {
        uint256 rec = _record(task);
        return (rec >> 104, (rec >> 80) & 0xFFFFFF, (rec >> 40) & 0xFFFFFFFFFF, (rec >> 16) & 0xFFFFFF, rec & 0xFFFF);
    }

    function isSettled(uint256 task, uint256 period) public view returns (bool) {
        return _settled[(period << 32) | (task >> 8)] & (1 << (task & 0xFF)) != 0;
    }

    function isDisputed(uint256 batchId, uint256 index) public view returns (bool) {
        return _disputed[(batchId << 32) | (index >> 8)] & (1 << (index & 0xFF)) != 0;
    }

    /// @notice A provider's earnings in wei: withdrawable now, and still pending (inside a dispute window).
    function earningsOf(address provider) external view returns (uint256 available, uint256 pending) {
        return _split(_earnings[registry.idOf(provider)]);
    }

    function feeEarnings() external view returns (uint256 available, uint256 pending) {
        return _split(_feeEarnings);
    }

    function hashTask(Task calldata t) public pure returns (bytes32) {
        bytes32 sla = keccak256(
            abi.encode(
                SLA_TYPEHASH,
                t.sla.tier,
                t.sla.maxLatencyMs,
                t.sla.maxDurationSeconds,
                t.sla.priceCap,
                t.sla.regionsHash,
                t.sla.dataResidencyHash
            )
        );
        bytes32 conf = keccak256(
            abi.encode(
                CONFIDENTIAL_TYPEHASH, t.confidential.required, t.confidential.teeTypesHash, t.confidential.gpuAttestation
            )
        );
        return keccak256(
            abi.encode(
                TASK_TYPEHASH,
                t.requester,
                t.provider,
                t.hubJob,
                t.modelHash,
                sla,
                conf,
                t.retries,
                t.gpus,
                t.maxTotal,
                t.nonce,
                t.deadline
            )
        );
    }

    /// @notice The EIP-712 digest the requester signs for `t`.
    function taskDigest(Task calldata t) public view returns (bytes32) {
        return _hashTypedDataV4(hashTask(t));
    }

    /// @notice What a task would lock: cap per period (UNIT) and number of periods.
    function taskTerms(Task calldata t) public view returns (uint256 capUnits, uint256 span) {
        capUnits = (t.sla.priceCap * t.gpus * periodSeconds) / 3600 / UNIT;
        if (capUnits == 0 || capUnits >= (1 << 40)) revert CapOutOfRange(capUnits);
        span = t.maxTotal / (capUnits * UNIT);
        if (t.sla.maxDurationSeconds != 0) {
            uint256 byDuration = (t.sla.maxDurationSeconds + periodSeconds - 1) / periodSeconds;
            if (byDuration < span) span = byDuration;
        }
        if (span > 0xFFFF) span = 0xFFFF;
        if (span == 0) revert NoPeriods();
    }

    // ------------------------------------------------------------------ escrow

    function deposit(uint256 amount) external {
        depositFor(msg.sender, amount);
    }

    /// @notice Adds `amount` to `requester`'s escrow, paid by the caller.
    function depositFor(address requester, uint256 amount) public nonReentrant whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        uint256 id = _idOrNew(requester);
        _escrows[id].free += SafeCast.toUint128(amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit Deposited(requester, id, msg.sender, amount);
    }

    /// @notice Credits the requesters' share of a slash to their escrow `free` (withdrawable with withdrawEscrow).
    /// Only the registry calls it, after transferring the sum of `amounts` here; each requester must already
    /// hold an escrow (`NoEscrow` otherwise). Works while paused: it only adds.
    function creditSlash(address[] calldata requesters, uint256[] calldata amounts) external {
        if (msg.sender != address(registry)) revert NotRegistry(msg.sender);
        if (requesters.length != amounts.length) revert LengthMismatch();
        for (uint256 i; i < requesters.length; ++i) {
            if (amounts[i] == 0) continue;
            // Only requesters who hold an escrow here (every task's requester does): no ids for strangers.
            uint256 id = requesterId[requesters[i]];
            if (id == 0) revert NoEscrow(requesters[i]);
            _escrows[id].free += SafeCast.toUint128(amounts[i]);
            emit SlashCredited(requesters[i], id, amounts[i]);
        }
    }

    /// @dev The requester's id, assigned on first use. Ids are 24 bits in task records.
    function _idOrNew(address requester) private returns (uint256 id) {
        id = requesterId[requester];
        if (id == 0) {
            if (_requesters.length >= (1 << 24) - 1) revert TooManyRequesters((1 << 24) - 1);
            _requesters.push(requester);
            id = _requesters.length;
            requesterId[requester] = id;
        }
    }

    function withdrawEscrow(uint256 amount) external nonReentrant whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        uint256 id = requesterId[msg.sender];
        if (id == 0) revert NoEscrow(msg.sender);
        Escrow storage e = _escrows[id];
        if (amount > e.free) revert InsufficientEscrow(msg.sender, e.free, amount);
        e.free -= uint128(amount);
        token.safeTransfer(msg.sender, amount);
        emit EscrowWithdrawn(msg.sender, amount);
    }

    /// @notice Revokes a signed task before it is opened.
    function cancelNonce(uint256 nonce) external {
        if (nonceUsed[msg.sender][nonce]) revert NonceAlreadyUsed(msg.sender, nonce);
        nonceUsed[msg.sender][nonce] = true;
        emit NonceCancelled(msg.sender, nonce);
    }

    // ------------------------------------------------------------------- tasks

    /// @notice Opens tasks signed by their requesters on the given providers; returns the first task index
    /// (the others follow in order).
    function openTasks(OpenRequest[] calldata reqs)
        external
        onlyRole(COORDINATOR_ROLE)
        whenNotPaused
        nonReentrant
        returns (uint256 first)
    {
        first = taskCount;
        uint256 startPeriod = currentPeriod();
        if (startPeriod >= (1 << 24)) revert PeriodOutOfRange(first, startPeriod);
        Params memory p = params;
        for (uint256 i; i < reqs.length; ++i) {
            _open(reqs[i], first + i, startPeriod, p.stakeLockBps, p.disputeWindow);
        }
        taskCount = first + reqs.length;
    }

    function _open(OpenRequest calldata r, uint256 task, uint256 startPeriod, uint256 stakeLockBps, uint256 window)
        private
    {
        Task calldata t = r.task;
        if (t.provider != address(0) && t.provider != r.provider) revert ProviderNotAllowed(t.provider, r.provider);
        bytes32 digest = _checkSigned(r);
        (uint256 cap, uint256 span) = taskTerms(t);
        uint256 lockWei = cap * UNIT * span;
        uint256 reqId = _lockEscrow(t.requester, lockWei);
        uint256 stakeLock = (lockWei * stakeLockBps) / 10_000;
        uint256 provId = registry.lock(r.provider, stakeLock);
        if (task >= (1 << 32) || provId >= (1 << 24)) revert TooManyIds();
        // Marked even when no stake is held, so the release happens once; the dispute window of the day is kept
        // so a later, shorter window cannot release the stake early.
        taskStakeLock[task] = stakeLock | (window << 192) | (1 << 255);
        uint256 rec = (reqId << 104) | (provId << 80) | (cap << 40) | (startPeriod << 16) | span;
        _writeRecord(task, rec);
        emit TaskOpened(task, t.requester, r.provider, digest, t.hubJob, t.nonce, rec, lockWei, stakeLock);
    }

    /// @dev The requester signed this task (EOA or ERC-1271 wallet), before its deadline, with an unused nonce,
    /// which is then used up. Returns the EIP-712 digest.
    function _checkSigned(OpenRequest calldata r) private returns (bytes32 digest) {
        Task calldata t = r.task;
        if (block.timestamp > t.deadline) revert SignatureExpired(t.deadline);
        if (nonceUsed[t.requester][t.nonce]) revert NonceAlreadyUsed(t.requester, t.nonce);
        digest = _hashTypedDataV4(hashTask(t));
        if (!SignatureChecker.isValidSignatureNow(t.requester, digest, r.signature)) revert BadSignature(t.requester);
        nonceUsed[t.requester][t.nonce] = true;
    }

    function _lockEscrow(address requester, uint256 lockWei) private returns (uint256 reqId) {
        reqId = requesterId[requester];
        if (reqId == 0) revert NoEscrow(requester);
        Escrow storage e = _escrows[reqId];
        if (lockWei > e.free) revert InsufficientEscrow(requester, e.free, lockWei);
        e.free -= uint128(lockWei);
        e.locked += uint128(lockWei);
    }

    /// @notice Ends tasks early: no period after the current one may be settled, and their lock returns to
    /// the requester now.
    function closeTasks(uint256[] calldata tasks) external onlyRole(COORDINATOR_ROLE) whenNotPaused {
        _close(tasks, currentPeriod() + 1, 0);
    }

    /// @notice The requester ends its own tasks: after the current period and OWNER_CLOSE_NOTICE_PERIODS more
    /// (the provider's notice: work it does until the coordinator stops the job is still paid), every later
    /// period's lock returns to the requester's `free` now. Each task must be the caller's.
    function closeOwnTasks(uint256[] calldata tasks) external whenNotPaused {
        uint256 id = requesterId[msg.sender];
        if (id == 0) revert NoEscrow(msg.sender);
        _close(tasks, currentPeriod() + 1 + OWNER_CLOSE_NOTICE_PERIODS, id);
    }

    /// @dev Cuts each task's span to end before period `end`; `owner` non-zero: each task must be its.
    function _close(uint256[] calldata tasks, uint256 end, uint256 owner) private {
        for (uint256 i; i < tasks.length; ++i) {
            uint256 task = tasks[i];
            uint256 rec = _record(task);
            if (rec == 0) revert UnknownTask(task);
            if (owner != 0 && rec >> 104 != owner) revert NotTaskOwner(task, msg.sender);
            uint256 start = (rec >> 16) & 0xFFFFFF;
            uint256 span = rec & 0xFFFF;
            uint256 refunded;
            if (start + span > end) {
                uint256 newSpan = end > start ? end - start : 0;
                refunded = ((rec >> 40) & 0xFFFFFFFFFF) * UNIT * (span - newSpan);
                span = newSpan;
                _writeRecord(task, (rec & ~uint256(0xFFFF)) | newSpan);
                _release(rec >> 104, refunded, refunded);
            }
            emit TaskClosed(task, span, refunded);
        }
    }

    /// @notice Records, once per task, the head of the checkpoint lineage of the training job the task paid for,
    /// at the job's end (the coordinator does it before closing the task). Each task must have been opened
    /// (`UnknownTask`), the head must not be zero (`ZeroLineageHead`) and the task must not have been anchored
    /// before (`LineageAlreadyAnchored`, naming the head it has); any refused anchor reverts the whole batch.
    /// Moves no money.
    function anchorLineages(LineageAnchor[] calldata anchors) external onlyRole(COORDINATOR_ROLE) whenNotPaused {
        uint256 count = taskCount;
        for (uint256 i; i < anchors.length; ++i) {
            LineageAnchor calldata a = anchors[i];
            if (a.task >= count) revert UnknownTask(a.task);
            if (a.head == 0) revert ZeroLineageHead(a.task);
            bytes32 was = _lineage[a.task];
            if (was != 0) revert LineageAlreadyAnchored(a.task, was);
            _lineage[a.task] = a.head;
            emit LineageAnchored(a.task, a.head, a.step);
        }
    }

    /// @notice The lineage head anchored for `task`; 0 when none was.
    function lineageOf(uint256 task) external view returns (bytes32) {
        return _lineage[task];
    }

    /// @notice Returns the lock of periods nobody settled before their settle deadline. Anyone may call it;
    /// the money goes back to the requester's escrow.
    function refundPeriods(uint256 task, uint256[] calldata periods) external whenNotPaused {
        uint256 rec = _record(task);
        if (rec == 0) revert UnknownTask(task);
        uint256 oldest = _oldestSettleable(params.settleWindow);
        uint256 start = (rec >> 16) & 0xFFFFFF;
        uint256 end = start + (rec & 0xFFFF);
        for (uint256 i; i < periods.length; ++i) {
            uint256 p = periods[i];
            if (p < start || p >= end) revert PeriodOutOfRange(task, p);
            if (p >= oldest) revert RefundTooEarly(task, p);
            uint256 key = (p << 32) | (task >> 8);
            uint256 bit = 1 << (task & 0xFF);
            if (_settled[key] & bit != 0) revert AlreadySettled(task, p);
            _settled[key] |= bit;
        }
        uint256 refunded = ((rec >> 40) & 0xFFFFFFFFFF) * UNIT * periods.length;
        _release(rec >> 104, refunded, refunded);
        emit PeriodsRefunded(task, periods, refunded);
    }

    /// @notice Releases the provider stake held for tasks whose last period is past its settle deadline and
    /// twice the dispute window after it (the larger of the window when the task was opened and now), time
    /// paused not counted. `StakeLockedUntil` names the earliest time, assuming no further pause.
    function releaseStake(uint256[] calldata tasks) external whenNotPaused {
        Params memory p = params;
        for (uint256 i; i < tasks.length; ++i) {
            uint256 task = tasks[i];
            uint256 rec = _record(task);
            if (rec == 0) revert UnknownTask(task);
            uint256 held = taskStakeLock[task];
            uint256 window = (held >> 192) & 0xFFFFFFFF;
            if (window < p.disputeWindow) window = p.disputeWindow;
            uint256 wait = uint256(p.settleWindow) + 2 * window;
            uint256 endTime = genesis + (((rec >> 16) & 0xFFFFFF) + (rec & 0xFFFF)) * periodSeconds;
            uint256 cutoff = _cutoff(wait);
            if (cutoff < endTime) revert StakeLockedUntil(task, block.timestamp + endTime - cutoff);
            if (held == 0) continue;
            taskStakeLock[task] = 0;
            uint256 amount = held & ((1 << 192) - 1);
            address provider = registry.providerAt((rec >> 80) & 0xFFFFFF);
            registry.unlock(provider, amount);
            emit TaskStakeReleased(task, provider, amount);
        }
    }

    // -------------------------------------------------------------- settlement

    /// @notice Settles a batch. `items` is a packed list of 12-byte items, each big-endian
    /// task (uint32) | period (uint24) | amount in UNIT (uint40). Sorting items by task (so consecutive tasks
    /// share storage reads) and grouping by requester and provider makes it cheapest; any order is correct.
    /// Reverts as a whole if any item is invalid or already settled.
    function settle(bytes calldata items) external onlyRole(COORDINATOR_ROLE) whenNotPaused returns (uint256 batchId) {
        uint256 n = items.length / ITEM_BYTES;
        if (n == 0 || items.length != n * ITEM_BYTES) revert BadItems(items.length);
        Params memory p = params;
        uint256 releaseAt = _releaseTime(p.disputeWindow);
        Scan memory s;
        s.n = n;
        s.pair = type(uint256).max;
        s.slotKey = type(uint256).max;
        s.wordKey = type(uint256).max;
        s.oldest = _oldestSettleable(p.settleWindow);
        s.width = currentPeriod() - s.oldest;
        s.feeBps = p.feeBps;
        // The items are copied to memory once: hashed for the batch commitment and read by the scan from there.
        bytes32 itemsHash;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, items.offset, items.length)
            itemsHash := keccak256(ptr, items.length)
            mstore(0x40, add(ptr, add(items.length, 32)))
            mstore(add(s, 0x1c0), ptr)
        }
        uint256 totalAmount;
        uint256 totalFee;
        uint256 totalRefund;
        for (;;) {
            _scan(s);
            // One write per (requester, provider) group: the requester's lock for these periods is released,
            // the unused part returned; the provider's share becomes pending earnings.
            uint256 refund = s.cap - s.amount;
            _release(s.pair >> 24, s.cap * UNIT, refund * UNIT);
            uint256 provId = s.pair & 0xFFFFFF;
            _earnings[provId] = _credit(_earnings[provId], s.amount - s.fee, releaseAt);
            totalAmount += s.amount;
            totalFee += s.fee;
            totalRefund += refund;
            if (s.i == n) break;
            s.pair = s.nextPair;
            s.amount = 0;
            s.cap = 0;
            s.fee = 0;
        }
        _settled[s.wordKey] = s.word;
        _feeEarnings = _credit(_feeEarnings, totalFee, releaseAt);
        batchId = batchCount++;
        batchCommitment[batchId] = keccak256(abi.encode(itemsHash, releaseAt, uint256(p.feeBps)));
        emit BatchSettled(
            batchId, itemsHash, n, totalAmount * UNIT, totalFee * UNIT, totalRefund * UNIT, releaseAt, p.feeBps
        );
    }

    /// @dev The scan state of a batch: cursor, current group and its sums (UNIT), cached task slot and
    /// settled word, and the bounds every item is checked against.
    struct Scan {
        uint256 i;
        uint256 n;
        uint256 pair;
        uint256 nextPair;
        uint256 amount;
        uint256 cap;
        uint256 fee;
        uint256 slotKey;
        uint256 slot;
        uint256 wordKey;
        uint256 word;
        uint256 width; // now - oldest: periods that may be settled are oldest <= p < now
        uint256 oldest;
        uint256 feeBps;
        uint256 items; // memory pointer to the packed items
    }

    /// @dev Checks and sums items from `s.i` on while they belong to group `s.pair` (the first item sets it);
    /// stops at the end or at the first item of another group (`s.nextPair`). Per item: the task record
    /// (cached: two tasks per slot), oldest <= period < now, start <= period < start + span, amount <= cap,
    /// and the (task, period) bit not yet set in the settled bitmap (cached word, written back on change).
    /// Assembly because this loop is most of a batch's gas; in Solidity it cost ~1,300 gas per item.
    function _scan(Scan memory s) private {
        assembly ("memory-safe") {
            // Reverts with a custom error of two arguments.
            function fail(sel, a, b) {
                let m := mload(0x40)
                mstore(m, shl(224, sel))
                mstore(add(m, 0x04), a)
                mstore(add(m, 0x24), b)
                revert(m, 0x44)
            }
            // The three sums share one word (amount << 128 | cap << 64 | fee; each stays below 2^64).
            let base := mload(add(s, 0x1c0))
            let ptr := add(base, mul(mload(s), 12))
            let end := add(base, mul(mload(add(s, 0x20)), 12))
            let pair := mload(add(s, 0x40))
            let acc := 0
            let slotKey := mload(add(s, 0xe0))
            let slot := mload(add(s, 0x100))
            let wordKey := mload(add(s, 0x120))
            let word := mload(add(s, 0x140))
            for {} lt(ptr, end) { ptr := add(ptr, 12) } {
                // From memory, not calldata: the optimizer would recompute a calldataload at every use.
                let it := shr(160, mload(ptr))
                let task := shr(64, it)
                if iszero(eq(shr(1, task), slotKey)) {
                    slotKey := shr(1, task)
                    slot := sload(add(_taskSlots.slot, slotKey))
                }
                // An unknown task has a zero record: span 0, so the range check below refuses it.
                let rec := and(shr(shl(7, and(task, 1)), slot), 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF)
                if iszero(eq(shr(80, rec), pair)) {
                    if iszero(eq(pair, not(0))) {
                        mstore(add(s, 0x60), shr(80, rec))
                        break
                    }
                    pair := shr(80, rec)
                }
                let period := and(shr(40, it), 0xFFFFFF)
                // start <= period < start + span and oldest <= period < now, each one unsigned compare
                if or(
                    iszero(lt(sub(period, and(shr(16, rec), 0xFFFFFF)), and(rec, 0xFFFF))),
                    iszero(lt(sub(period, mload(add(s, 0x180))), mload(add(s, 0x160))))
                ) { fail(0xf1d572a8, task, period) } // PeriodOutOfRange(uint256,uint256)
                let cap := and(shr(40, rec), 0xFFFFFFFFFF)
                let amount := and(it, 0xFFFFFFFFFF)
                if gt(amount, cap) { fail(0xd58632c6, task, period) } // AmountAboveCap(uint256,uint256)
                let key := or(shl(32, period), shr(8, task))
                if iszero(eq(key, wordKey)) {
                    if iszero(eq(wordKey, not(0))) { sstore(add(_settled.slot, wordKey), word) }
                    wordKey := key
                    word := sload(add(_settled.slot, key))
                }
                let bit := shl(and(task, 0xFF), 1)
                if and(word, bit) { fail(0xd0e4288f, task, period) } // AlreadySettled(uint256,uint256)
                word := or(word, bit)
                acc := add(acc, or(or(shl(128, amount), shl(64, cap)), div(mul(amount, mload(add(s, 0x1a0))), 10000)))
            }
            mstore(s, div(sub(ptr, base), 12))
            mstore(add(s, 0x40), pair)
            mstore(add(s, 0x80), shr(128, acc))
            mstore(add(s, 0xa0), and(shr(64, acc), 0xFFFFFFFFFFFFFFFF))
            mstore(add(s, 0xc0), and(acc, 0xFFFFFFFFFFFFFFFF))
            mstore(add(s, 0xe0), slotKey)
            mstore(add(s, 0x100), slot)
            mstore(add(s, 0x120), wordKey)
            mstore(add(s, 0x140), word)
        }
    }

    /// @notice Reverses settled items of batch `batchId` before its release time: each item's whole amount
    /// returns to the requester's escrow, taken back from the provider's and the fee recipient's pending
    /// earnings. The (task, period) stays settled (at zero). `items`, `releaseAt` and `feeBps` must be the
    /// batch's own (checked against its commitment); `indexes` name the items to reverse.
    function dispute(
        uint256 batchId,
        bytes calldata items,
        uint256 releaseAt,
        uint256 feeBps,
        uint256[] calldata indexes,
        bytes32 reason
    ) external {
        if (!hasRole(VERIFIER_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert AccessControlUnauthorizedAccount(msg.sender, VERIFIER_ROLE);
        }
        if (
            batchId >= batchCount
                || keccak256(abi.encode(keccak256(items), releaseAt, feeBps)) != batchCommitment[batchId]
        ) revert BadBatch(batchId);
        if (block.timestamp >= releaseAt) revert DisputeWindowOver(batchId, releaseAt);
        Reversal memory r;
        r.batchId = batchId;
        r.releaseAt = releaseAt;
        r.feeBps = feeBps;
        r.pair = type(uint256).max;
        for (uint256 i; i < indexes.length; ++i) {
            _reverseItem(r, items, indexes[i]);
        }
        if (r.pair != type(uint256).max) _reverse(r.pair, r.amount, r.fee, releaseAt);
        _feeEarnings = _debit(_feeEarnings, r.totalFee, releaseAt);
        emit ItemsDisputed(batchId, reason, indexes, r.totalAmount * UNIT);
    }

    /// @dev Running sums of a dispute (UNIT), written once per (requester, provider) group.
    struct Reversal {
        uint256 batchId;
        uint256 releaseAt;
        uint256 feeBps;
        uint256 pair;
        uint256 amount;
        uint256 fee;
        uint256 totalAmount;
        uint256 totalFee;
    }

    function _reverseItem(Reversal memory r, bytes calldata items, uint256 index) private {
        if (index >= items.length / ITEM_BYTES) revert BadItems(index);
        uint256 key = (r.batchId << 32) | (index >> 8);
        uint256 bit = 1 << (index & 0xFF);
        if (_disputed[key] & bit != 0) revert AlreadyDisputed(r.batchId, index);
        _disputed[key] |= bit;
        uint256 it;
        assembly ("memory-safe") {
            it := shr(160, calldataload(add(items.offset, mul(index, 12))))
        }
        uint256 amount = it & 0xFFFFFFFFFF;
        uint256 pair = _record(it >> 64) >> 80;
        if (pair != r.pair) {
            if (r.pair != type(uint256).max) _reverse(r.pair, r.amount, r.fee, r.releaseAt);
            r.pair = pair;
            r.amount = 0;
            r.fee = 0;
        }
        uint256 fee = (amount * r.feeBps) / 10_000;
        r.amount += amount;
        r.fee += fee;
        r.totalAmount += amount;
        r.totalFee += fee;
    }

    function _reverse(uint256 pair, uint256 amount, uint256 fee, uint256 releaseAt) private {
        _escrows[pair >> 24].free += uint128(amount * UNIT);
        uint256 provId = pair & 0xFFFFFF;
        _earnings[provId] = _debit(_earnings[provId], amount - fee, releaseAt);
    }

    function withdrawEarnings() external nonReentrant whenNotPaused returns (uint256 amount) {
        uint256 id = registry.idOf(msg.sender);
        if (id == 0) revert NotProvider(msg.sender);
        uint256 e = _mature(_earnings[id]);
        amount = (e >> 192) * UNIT;
        if (amount == 0) revert NothingToWithdraw();
        _earnings[id] = e & ((1 << 192) - 1);
        token.safeTransfer(msg.sender, amount);
        emit EarningsWithdrawn(msg.sender, id, amount);
    }

    function withdrawFees() external nonReentrant whenNotPaused returns (uint256 amount) {
        address recipient = params.feeRecipient;
        if (msg.sender != recipient) revert NotFeeRecipient(msg.sender);
        uint256 e = _mature(_feeEarnings);
        amount = (e >> 192) * UNIT;
        if (amount == 0) revert NothingToWithdraw();
        _feeEarnings = e & ((1 << 192) - 1);
        token.safeTransfer(recipient, amount);
        emit FeesWithdrawn(recipient, amount);
    }

    // -------------------------------------------------------------- governance

    function setFeeBps(uint256 value) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setFeeBps(value);
    }

    function setStakeLockBps(uint256 value) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setStakeLockBps(value);
    }

    function setDisputeWindow(uint256 value) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDisputeWindow(value);
    }

    function setSettleWindow(uint256 value) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setSettleWindow(value);
    }

    function setFeeRecipient(address value) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setFeeRecipient(value);
    }

    function pause() external {
        if (!hasRole(GUARDIAN_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert AccessControlUnauthorizedAccount(msg.sender, GUARDIAN_ROLE);
        }
        _pause();
        _pausedSince = block.timestamp;
    }

    /// @notice Ends a pause. The time paused does not count against any settle deadline (see _cutoff).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
        if (_pausedSince < block.timestamp) _pauses.push((_pausedSince << 128) | block.timestamp);
        _pausedSince = 0;
    }

    /// @notice Seconds paused in total (finished pauses).
    function pausedTime() external view returns (uint256 total) {
        for (uint256 i; i < _pauses.length; ++i) {
            total += (_pauses[i] & type(uint128).max) - (_pauses[i] >> 128);
        }
    }

    /// @notice A task's provider stake lock: wei still held (0 once released) and the dispute window when opened.
    function taskStakeLockOf(uint256 task) external view returns (uint256 amount, uint256 disputeWindowAtOpen) {
        uint256 held = taskStakeLock[task];
        return (held & ((1 << 192) - 1), (held >> 192) & 0xFFFFFFFF);
    }

    function _setFeeBps(uint256 value) private {
        if (value > MAX_FEE_BPS) revert ParameterOutOfRange("feeBps", value);
        params.feeBps = uint16(value);
        emit ParameterSet("feeBps", value);
    }

    function _setStakeLockBps(uint256 value) private {
        if (value > 10_000) revert ParameterOutOfRange("stakeLockBps", value);
        params.stakeLockBps = uint16(value);
        emit ParameterSet("stakeLockBps", value);
    }

    function _setDisputeWindow(uint256 value) private {
        if (value < MIN_WINDOW || value > MAX_WINDOW) revert ParameterOutOfRange("disputeWindow", value);
        params.disputeWindow = uint32(value);
        emit ParameterSet("disputeWindow", value);
    }

    function _setSettleWindow(uint256 value) private {
        if (value < MIN_WINDOW || value > MAX_WINDOW) revert ParameterOutOfRange("settleWindow", value);
        params.settleWindow = uint32(value);
        emit ParameterSet("settleWindow", value);
    }

    function _setFeeRecipient(address value) private {
        if (value == address(0)) revert ParameterOutOfRange("feeRecipient", 0);
        params.feeRecipient = value;
        emit ParameterSet("feeRecipient", uint256(uint160(value)));
    }

    // --------------------------------------------------------------- internals

    function _record(uint256 task) private view returns (uint256) {
        uint256 slot = _taskSlots[task >> 1];
        return task & 1 == 0 ? slot & type(uint128).max : slot >> 128;
    }

    function _writeRecord(uint256 task, uint256 rec) private {
        uint256 slot = _taskSlots[task >> 1];
        _taskSlots[task >> 1] = task & 1 == 0
            ? (slot & ~uint256(type(uint128).max)) | rec
            : (slot & type(uint128).max) | (rec << 128);
    }

    /// @dev Moves `unlocked` out of the requester's lock, `refunded` of it back to `free` (the rest was paid).
    function _release(uint256 reqId, uint256 unlocked, uint256 refunded) private {
        Escrow memory e = _escrows[reqId];
        e.locked -= uint128(unlocked);
        e.free += uint128(refunded);
        _escrows[reqId] = e;
    }

    /// @dev The first period that may still be settled: period p may be settled while less than
    /// `settleWindow` seconds not paused have passed since it ended (genesis + (p + 1) * periodSeconds), so a
    /// pause extends every deadline it overlaps by its length. Refunds use the same bound, so a period is
    /// refundable only once the coordinator had the whole settle window, unpaused, to settle it.
    function _oldestSettleable(uint256 settleWindow) private view returns (uint256) {
        uint256 c = _cutoff(settleWindow);
        return c <= genesis ? 0 : (c - genesis) / periodSeconds;
    }

    /// @dev The time T such that `window` seconds not paused passed between T and now (0 if before any time):
    /// now - window, moved back by the length of every pause ending after it. One storage read when no pause
    /// happened in the window (the hot path), plus one per recent pause.
    function _cutoff(uint256 window) private view returns (uint256 t) {
        if (block.timestamp <= window) return 0;
        t = block.timestamp - window;
        for (uint256 i = _pauses.length; i > 0; --i) {
            uint256 pz = _pauses[i - 1];
            uint256 end = pz & type(uint128).max;
            if (end <= t) break;
            uint256 len = end - (pz >> 128);
            if (t <= len) return 0;
            t -= len;
        }
    }

    /// @dev The dispute window rounded up to a multiple of itself, so pending releases take two values at most.
    function _releaseTime(uint256 window) private view returns (uint256) {
        return ((block.timestamp + 2 * window - 1) / window) * window;
    }

    function _split(uint256 e) private view returns (uint256 available, uint256 pending) {
        uint256 m = _mature(e);
        available = (m >> 192) * UNIT;
        pending = (((m >> 128) & 0xFFFFFFFFFFFFFFFF) + ((m >> 32) & 0xFFFFFFFFFFFFFFFF)) * UNIT;
    }

    /// @dev Moves buckets whose release time has passed into `available`.
    function _mature(uint256 e) private view returns (uint256) {
        uint256 avail = e >> 192;
        uint256 a0 = (e >> 128) & 0xFFFFFFFFFFFFFFFF;
        uint256 r0 = (e >> 96) & 0xFFFFFFFF;
        uint256 a1 = (e >> 32) & 0xFFFFFFFFFFFFFFFF;
        uint256 r1 = e & 0xFFFFFFFF;
        if (r0 != 0 && r0 <= block.timestamp) {
            avail += a0;
            a0 = 0;
            r0 = 0;
        }
        if (r1 != 0 && r1 <= block.timestamp) {
            avail += a1;
            a1 = 0;
            r1 = 0;
        }
        return _pack(avail, a0, r0, a1, r1);
    }

    function _pack(uint256 avail, uint256 a0, uint256 r0, uint256 a1, uint256 r1) private pure returns (uint256) {
        if (avail > type(uint64).max || a0 > type(uint64).max || a1 > type(uint64).max) revert EarningsOverflow();
        return (avail << 192) | (a0 << 128) | (r0 << 96) | (a1 << 32) | r1;
    }

    /// @dev Adds `amount` pending until `releaseAt`. A bucket with the same release takes it, else a free one;
    /// should both hold other releases (only after the window was changed), the later one takes it and keeps
    /// the later time, so money is never released early.
    function _credit(uint256 e, uint256 amount, uint256 releaseAt) private view returns (uint256) {
        if (amount == 0) return e;
        e = _mature(e);
        uint256 avail = e >> 192;
        uint256 a0 = (e >> 128) & 0xFFFFFFFFFFFFFFFF;
        uint256 r0 = (e >> 96) & 0xFFFFFFFF;
        uint256 a1 = (e >> 32) & 0xFFFFFFFFFFFFFFFF;
        uint256 r1 = e & 0xFFFFFFFF;
        if (r0 == releaseAt) {
            a0 += amount;
        } else if (r1 == releaseAt) {
            a1 += amount;
        } else if (r0 == 0) {
            a0 = amount;
            r0 = releaseAt;
        } else if (r1 == 0) {
            a1 = amount;
            r1 = releaseAt;
        } else if (r0 >= r1) {
            a0 += amount;
            if (releaseAt > r0) r0 = releaseAt;
        } else {
            a1 += amount;
            if (releaseAt > r1) r1 = releaseAt;
        }
        return _pack(avail, a0, r0, a1, r1);
    }

    /// @dev Takes back `amount` credited with `releaseAt` (not yet released). It sits in a bucket releasing at
    /// `releaseAt` or later (buckets only move later); the earliest such bucket is drained first.
    function _debit(uint256 e, uint256 amount, uint256 releaseAt) private view returns (uint256) {
        if (amount == 0) return e;
        e = _mature(e);
        uint256 avail = e >> 192;
        uint256 a0 = (e >> 128) & 0xFFFFFFFFFFFFFFFF;
        uint256 r0 = (e >> 96) & 0xFFFFFFFF;
        uint256 a1 = (e >> 32) & 0xFFFFFFFFFFFFFFFF;
        uint256 r1 = e & 0xFFFFFFFF;
        bool first0 = r0 >= releaseAt && (r1 < releaseAt || r0 <= r1);
        if (first0) {
            uint256 take = amount > a0 ? a0 : amount;
            a0 -= take;
            amount -= take;
            if (amount != 0 && r1 >= releaseAt) {
                a1 -= amount; // reverts on underflow
                amount = 0;
            }
        } else if (r1 >= releaseAt) {
            uint256 take = amount > a1 ? a1 : amount;
            a1 -= take;
            amount -= take;
            if (amount != 0 && r0 >= releaseAt) {
                a0 -= amount;
                amount = 0;
            }
        }
        if (amount != 0) revert EarningsOverflow();
        if (a0 == 0) r0 = 0;
        if (a1 == 0) r1 = 0;
        return _pack(avail, a0, r0, a1, r1);
    }
}
