import TestSupport
import XCTest

@testable import BitsEngine

final class RangeSchedulerTests: XCTestCase {
  private let limits = RangeScheduler.Limits(
    maximumRequestSize: 100, maximumConcurrentRequests: 2,
    backoff: Backoff(initial: .milliseconds(10), maximum: .milliseconds(40)), retryPeriod: .seconds(10))
  private let start = ContinuousClock.now
  private let transient = BitsError(.connectionClosed, "reset")

  func testRequestsClaimOnlyWhatIsNeitherFilledNorClaimedInPiecesOfTheRequestSize() {
    var scheduler = RangeScheduler(limits: limits)
    let filled = ByteRangeSet([50..<60])
    XCTAssertTrue(scheduler.request([0..<250], priority: .normal, filled: filled).queuedAny)
    XCTAssertEqual(scheduler.queue.map(\.range), [0..<50, 60..<160, 160..<250])
    XCTAssertFalse(scheduler.request([100..<200], priority: .normal, filled: filled).queuedAny, "already claimed")
    XCTAssertEqual(scheduler.claimed.intervals, [0..<50, 60..<250])
  }

  func testForegroundGoesFirstAndIgnoresTheLimitWhileOthersKeepToIt() {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<300], priority: .low, filled: ByteRangeSet())
    _ = scheduler.request([1000..<1100], priority: .high, filled: ByteRangeSet())
    XCTAssertEqual(scheduler.takeStartable().map(\.range), [1000..<1100, 0..<100], "high first, two at most")
    _ = scheduler.request([2000..<2300], priority: .foreground, filled: ByteRangeSet())
    XCTAssertEqual(
      scheduler.takeStartable().map(\.range), [2000..<2100, 2100..<2200, 2200..<2300],
      "a reader never waits behind the limit")
    XCTAssertEqual(scheduler.queue.map(\.range), [100..<200, 200..<300])
  }

  func testARequestOfHigherPriorityRaisesTheQueuedPiecesItNeeds() {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<500], priority: .low, filled: ByteRangeSet())
    XCTAssertFalse(scheduler.request([320..<330], priority: .high, filled: ByteRangeSet()).queuedAny)
    XCTAssertEqual(scheduler.queue.first?.range, 300..<400)
    XCTAssertEqual(scheduler.queue.first?.priority, .high)
    _ = scheduler.request([0..<10], priority: .low, filled: ByteRangeSet())
    XCTAssertEqual(scheduler.queue.first?.priority, .high, "a lower priority never lowers a piece")
  }

  func testAReaderTakesItsBytesOutOfQueuedFillAndTheFillKeepsTheRest() {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<300], priority: .low, filled: ByteRangeSet())
    let requested = scheduler.request([120..<130], priority: .foreground, filled: ByteRangeSet())
    XCTAssertEqual(requested, RangeScheduler.Requested(queuedAny: true, preempted: []))
    XCTAssertEqual(scheduler.queue.map(\.range), [120..<130, 0..<100, 100..<120, 130..<200, 200..<300])
    XCTAssertEqual(scheduler.queue.map(\.priority), [.foreground, .low, .low, .low, .low])
    XCTAssertEqual(scheduler.claimed.intervals, [0..<300])
  }

  func testAReaderPreemptsFillInFlightThatHoldsItsBytes() throws {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<100], priority: .normal, filled: ByteRangeSet())
    let fill = try XCTUnwrap(scheduler.takeStartable().first)
    // 20 bytes of the fill arrived; the reader wants 50..<60.
    let requested = scheduler.request([50..<60], priority: .foreground, filled: ByteRangeSet([0..<20]))
    XCTAssertEqual(requested, RangeScheduler.Requested(queuedAny: true, preempted: [fill.id]))
    XCTAssertEqual(scheduler.queue.map(\.range), [50..<60, 20..<50, 60..<100])
    XCTAssertEqual(scheduler.queue.map(\.priority), [.foreground, .normal, .normal])
    XCTAssertEqual(scheduler.active[fill.id]?.isPreempted, true, "in flight until its cancellation ends it")
    XCTAssertEqual(scheduler.claimed.intervals, [20..<100])
    XCTAssertEqual(
      scheduler.request([55..<58], priority: .foreground, filled: ByteRangeSet([0..<20])).preempted, [],
      "preempted once")

    // Its end settles nothing, frees nothing it no longer claims, and what arrived before the
    // cancellation took is not asked again.
    let decision = scheduler.finish(
      fill.id, outcome: .failure(BitsError(.cancelled, "cancelled")), missing: [30..<100], now: start)
    XCTAssertEqual(decision, .settled)
    XCTAssertNil(scheduler.active[fill.id])
    XCTAssertEqual(scheduler.queue.map(\.range), [50..<60, 30..<50, 60..<100])
    XCTAssertEqual(scheduler.claimed.intervals, [30..<100])
  }

  func testReadAheadDoesNotPreemptFill() throws {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<100], priority: .low, filled: ByteRangeSet())
    _ = scheduler.takeStartable()
    XCTAssertEqual(scheduler.request([0..<100], priority: .high, filled: ByteRangeSet()).preempted, [])
    XCTAssertTrue(scheduler.queue.isEmpty, "the bytes are the fill's, in flight")
  }

  func testATransientFailureRetriesOnlyTheMissingBytesWithBackoff() throws {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<100], priority: .foreground, filled: ByteRangeSet())
    let piece = try XCTUnwrap(scheduler.takeStartable().first)
    let decision = scheduler.finish(piece.id, outcome: .failure(transient), missing: [40..<100], now: start)
    guard case .retry(_, let delay, let token) = decision else { return XCTFail("\(decision)") }
    XCTAssertEqual(delay, .milliseconds(10))
    XCTAssertEqual(scheduler.claimed.intervals, [40..<100], "the missing bytes stay claimed while waiting")
    XCTAssertTrue(scheduler.queue.isEmpty)
    scheduler.retryIsDue(token)
    XCTAssertEqual(scheduler.queue.map(\.range), [40..<100])
    XCTAssertEqual(scheduler.queue.first?.priority, .foreground)
  }

  func testFailuresWithoutProgressBackOffExponentiallyAndGiveUpAfterTheRetryPeriod() throws {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<100], priority: .normal, filled: ByteRangeSet())
    var now = start
    var delays: [Duration] = []
    while true {
      let piece = try XCTUnwrap(scheduler.takeStartable().first)
      let decision = scheduler.finish(piece.id, outcome: .failure(transient), missing: [0..<100], now: now)
      guard case .retry(_, let delay, let token) = decision else {
        XCTAssertEqual(decision, .fail(transient, range: 0..<100))
        break
      }
      delays.append(delay)
      scheduler.retryIsDue(token)
      now += .seconds(3)
    }
    XCTAssertEqual(delays, [.milliseconds(10), .milliseconds(20), .milliseconds(40), .milliseconds(40)])
    XCTAssertTrue(scheduler.isIdle)
    XCTAssertTrue(scheduler.claimed.isEmpty)
  }

  func testProgressRestartsTheRetryPeriodAndTheBackoff() throws {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<100], priority: .normal, filled: ByteRangeSet())
    var now = start
    var missingFrom: UInt64 = 0
    // Each attempt gets 10 more bytes, then fails: 30 s pass in all, yet it is never given up.
    while missingFrom < 100 {
      let piece = try XCTUnwrap(scheduler.takeStartable().first)
      missingFrom += 10
      let missing = missingFrom < 100 ? [missingFrom..<100] : []
      let decision = scheduler.finish(piece.id, outcome: .failure(transient), missing: missing, now: now)
      if missing.isEmpty {
        XCTAssertEqual(decision, .settled)
      } else {
        guard case .retry(_, let delay, let token) = decision else { return XCTFail("\(decision)") }
        XCTAssertEqual(delay, .milliseconds(10))
        scheduler.retryIsDue(token)
      }
      now += .seconds(3)
    }
    XCTAssertTrue(scheduler.isIdle)
  }

  func testPermanentErrorsFailAndAChangedFileIsReported() throws {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<200], priority: .normal, filled: ByteRangeSet())
    let pieces = scheduler.takeStartable()
    let forbidden = BitsError(.httpStatus(403), "forbidden")
    XCTAssertEqual(
      scheduler.finish(pieces[0].id, outcome: .failure(forbidden), missing: [0..<100], now: start),
      .fail(forbidden, range: 0..<100))
    let changed = BitsError(.remoteFileChanged, "changed")
    XCTAssertEqual(
      scheduler.finish(pieces[1].id, outcome: .failure(changed), missing: [100..<200], now: start), .versionChanged)
  }

  func testAShortAnswerIsRetriedAndAFailureAfterTheLastByteLosesNothing() throws {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<200], priority: .normal, filled: ByteRangeSet())
    let pieces = scheduler.takeStartable()
    guard
      case .retry(let error, _, _) = scheduler.finish(
        pieces[0].id, outcome: .success(()), missing: [50..<100], now: start)
    else { return XCTFail("a short answer is retried") }
    XCTAssertEqual(error.code, .connectionClosed)
    XCTAssertEqual(scheduler.finish(pieces[1].id, outcome: .failure(transient), missing: [], now: start), .settled)
  }

  func testResetForgetsEverythingAndStaleIdsAndTokensDoNothing() throws {
    var scheduler = RangeScheduler(limits: limits)
    _ = scheduler.request([0..<400], priority: .normal, filled: ByteRangeSet())
    let started = scheduler.takeStartable()
    guard
      case .retry(_, _, let token) = scheduler.finish(
        started[0].id, outcome: .failure(transient), missing: [0..<100], now: start)
    else { return XCTFail() }
    XCTAssertEqual(Set(scheduler.reset().map(\.id)), [started[1].id])
    XCTAssertTrue(scheduler.isIdle)
    XCTAssertTrue(scheduler.claimed.isEmpty)
    scheduler.retryIsDue(token)
    XCTAssertEqual(scheduler.finish(started[1].id, outcome: .success(()), missing: [], now: start), .settled)
    XCTAssertTrue(scheduler.isIdle, "nothing from before the reset comes back")
  }

  /// Random requests, starts, finishes and retries against the invariants: what is claimed is
  /// exactly what is queued, in flight or waiting, no byte twice; no piece is larger than the
  /// request size; the queue is in priority order; at most the limit of non-foreground pieces
  /// start; every byte asked for and not filled is claimed until it fails.
  func testRandomSchedulesKeepTheInvariants() throws {
    for seed in UInt64(1)...200 {
      var random = SplitMix64(seed: seed)
      var scheduler = RangeScheduler(limits: limits)
      var filled = ByteRangeSet()
      var tokens: [UInt64] = []
      for _ in 0..<60 {
        switch random.next() % 4 {
        case 0:
          let lower = random.next() % 1000
          let range = lower..<lower + 1 + random.next() % 300
          let priority = TransferPriority.allCases[Int(random.next() % 4)]
          _ = scheduler.request([range], priority: priority, filled: filled)
          for gap in filled.gaps(in: range) {
            XCTAssertTrue(scheduler.claimed.contains(gap), "seed \(seed): asked bytes are claimed")
          }
          if priority == .foreground {
            let fill = scheduler.queue + scheduler.active.values.filter { !$0.isPreempted } + scheduler.waitingForRetry
            XCTAssertFalse(
              fill.contains { [.normal, .low].contains($0.priority) && $0.range.overlaps(range) },
              "seed \(seed): a reader waits for fill")
          }
        case 1:
          let before = scheduler.active.values.filter { $0.priority != .foreground }.count
          let started = scheduler.takeStartable()
          let others = started.filter { $0.priority != .foreground }.count
          if others > 0 { XCTAssertLessThanOrEqual(before + others, limits.maximumConcurrentRequests, "seed \(seed)") }
        case 2:
          guard let piece = scheduler.active.values.sorted(by: { $0.id < $1.id }).first else { continue }
          // Some prefix of the piece arrived.
          let got = random.next() % (UInt64(piece.range.count) + 1)
          filled.insert(piece.range.lowerBound..<piece.range.lowerBound + got)
          let outcome: Result<Void, BitsError> = random.next() % 2 == 0 ? .success(()) : .failure(transient)
          let decision = scheduler.finish(
            piece.id, outcome: outcome, missing: filled.gaps(in: piece.range), now: ContinuousClock.now)
          if case .retry(_, _, let token) = decision { tokens.append(token) }
        default:
          guard !tokens.isEmpty else { continue }
          scheduler.retryIsDue(tokens.removeFirst())
        }
        let inFlight = scheduler.active.values.filter { !$0.isPreempted }
        let pieces = scheduler.queue + inFlight + scheduler.waitingForRetry
        let total = pieces.reduce(UInt64(0)) { $0 + UInt64($1.range.count) }
        XCTAssertEqual(total, scheduler.claimed.coveredByteCount, "seed \(seed): a byte claimed twice or lost")
        XCTAssertEqual(ByteRangeSet(pieces.map(\.range)), scheduler.claimed, "seed \(seed)")
        XCTAssertTrue(pieces.allSatisfy { $0.range.count <= 100 && !$0.range.isEmpty }, "seed \(seed)")
        XCTAssertEqual(
          scheduler.queue.map(\.priority), scheduler.queue.map(\.priority).sorted(), "seed \(seed): queue order")
      }
    }
  }
}

final class BackoffTests: XCTestCase {
  func testDoublesFromTheInitialDelayUpToTheMaximum() {
    let backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(5))
    XCTAssertEqual(
      (1...7).map { backoff.delay(beforeAttempt: $0) },
      [
        .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .milliseconds(3200),
        .seconds(5), .seconds(5),
      ])
    XCTAssertEqual(backoff.delay(beforeAttempt: 1_000_000), .seconds(5), "no overflow however many attempts")
    XCTAssertEqual(backoff.delay(beforeAttempt: 0), .milliseconds(200))
  }
}

final class RangeSchedulerDropTests: XCTestCase {
  func testDroppingReadAheadLeavesReadersAndStartedPiecesAlone() {
    var scheduler = RangeScheduler(
      limits: RangeScheduler.Limits(
        maximumRequestSize: 100, maximumConcurrentRequests: 2,
        backoff: Backoff(initial: .milliseconds(1), maximum: .milliseconds(1)), retryPeriod: .seconds(1)))
    _ = scheduler.request([0..<400], priority: .high, filled: ByteRangeSet())
    _ = scheduler.request([1000..<1100], priority: .foreground, filled: ByteRangeSet())
    let started = scheduler.takeStartable()
    XCTAssertEqual(started.map(\.range), [1000..<1100, 0..<100])
    scheduler.dropQueued(within: 0..<2000, priority: .high)
    XCTAssertEqual(scheduler.queue.map(\.range), [])
    XCTAssertEqual(scheduler.claimed.intervals, [0..<100, 1000..<1100], "pieces in flight stay claimed")
  }
}
