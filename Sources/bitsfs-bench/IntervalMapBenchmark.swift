import BitsEngine
import Foundation
import TestSupport

/// Times `ByteRangeSet` with a million disjoint intervals inserted in random order, then the same
/// workload on a plain sorted array (binary search, then insert) as the baseline.
///
/// Every random choice comes from a fixed seed, so that runs can be compared.
func runIntervalMapBenchmark(intervalCount: Int = 1_000_000) {
  let queryCount = 1_000_000
  let windowLength: UInt64 = 64
  // Intervals [10i, 10i + 5): disjoint and not adjacent, so that none merge.
  var generator = SplitMix64(seed: 2024)
  let intervals = (0..<UInt64(intervalCount)).map { $0 * 10..<$0 * 10 + 5 }
    .shuffled(using: &generator)
  let domain = UInt64(intervalCount) * 10
  let queryOffsets = (0..<queryCount).map { _ in generator.next() % domain }

  print("Interval map: \(intervalCount) disjoint intervals inserted in random order (seed 2024)")

  // MARK: ByteRangeSet

  let residentBefore = residentSetKilobytes()
  var set = ByteRangeSet()
  let insertTime = measure {
    for interval in intervals { set.insert(interval) }
  }
  let residentAfter = residentSetKilobytes()
  precondition(set.count == intervalCount, "the intervals are disjoint; none may merge")

  var gapCount = 0
  let gapsTime = measure {
    for offset in queryOffsets { gapCount += set.gaps(in: offset..<offset + windowLength).count }
  }
  var coveredCount = 0
  let containsTime = measure {
    for offset in queryOffsets where set.contains(offset..<offset + 3) { coveredCount += 1 }
  }

  print("ByteRangeSet")
  print(
    "  insert    \(formatted(insertTime)) total, "
      + "\(nanoseconds(insertTime, per: intervalCount))/insert")
  print(
    "  gaps(in:) \(nanoseconds(gapsTime, per: queryCount))/query "
      + "(\(queryCount) windows of \(windowLength) bytes, \(gapCount) gaps found)")
  print(
    "  contains  \(nanoseconds(containsTime, per: queryCount))/query "
      + "(\(queryCount) 3-byte intervals, \(coveredCount) covered)")
  print(
    "  memory    VmRSS \(residentBefore / 1024) MiB before, \(residentAfter / 1024) MiB after: "
      + "+\((residentAfter - residentBefore) / 1024) MiB, "
      + "\((residentAfter - residentBefore) * 1024 / intervalCount) bytes/interval "
      + "(16 bytes of payload)")

  // MARK: Baseline

  // Each insertion moves half the array on average, so the total grows with the square of the
  // count: time the first 100,000, and go on to all of them only if that would take under 30 s.
  let sampleCount = min(intervalCount, 100_000)
  var array = SortedIntervalArray()
  var baselineInsertTime = measure {
    for interval in intervals[..<sampleCount] { array.insert(interval) }
  }
  let projectedSeconds =
    seconds(baselineInsertTime) * pow(Double(intervalCount) / Double(sampleCount), 2)
  let baselineCount = projectedSeconds <= 30 ? intervalCount : sampleCount
  baselineInsertTime += measure {
    for interval in intervals[sampleCount..<baselineCount] { array.insert(interval) }
  }
  // The same inserts into a fresh set, for a like-for-like figure.
  var sameSizeSet = ByteRangeSet()
  let sameSizeInsertTime = measure {
    for interval in intervals[..<baselineCount] { sameSizeSet.insert(interval) }
  }
  // The queries run on all the intervals either way; in sorted order every insert is an append.
  if baselineCount < intervalCount {
    array = SortedIntervalArray()
    for interval in intervals.sorted(by: { $0.lowerBound < $1.lowerBound }) {
      array.insert(interval)
    }
  }
  precondition(array.count == intervalCount)

  var baselineGapCount = 0
  let baselineGapsTime = measure {
    for offset in queryOffsets {
      baselineGapCount += array.gaps(in: offset..<offset + windowLength).count
    }
  }
  var baselineCoveredCount = 0
  let baselineContainsTime = measure {
    for offset in queryOffsets where array.contains(offset..<offset + 3) {
      baselineCoveredCount += 1
    }
  }
  precondition(baselineGapCount == gapCount && baselineCoveredCount == coveredCount)

  print("Baseline: one sorted Array, binary search + insert")
  if baselineCount < intervalCount {
    print(
      "  inserts timed for the first \(baselineCount) intervals only: all \(intervalCount) "
        + "would take about \(Int(projectedSeconds)) s (an O(n) memmove per insert)")
  }
  print(
    "  insert    \(formatted(baselineInsertTime)) total, "
      + "\(nanoseconds(baselineInsertTime, per: baselineCount))/insert "
      + "(ByteRangeSet, the same \(baselineCount) inserts: "
      + "\(formatted(sameSizeInsertTime)) total, "
      + "\(nanoseconds(sameSizeInsertTime, per: baselineCount))/insert)")
  print(
    "  gaps(in:) \(nanoseconds(baselineGapsTime, per: queryCount))/query "
      + "(same queries, on all \(intervalCount) intervals)")
  print("  contains  \(nanoseconds(baselineContainsTime, per: queryCount))/query")
}

/// The baseline: one sorted array of disjoint, non-adjacent intervals.
private struct SortedIntervalArray {
  private var intervals: [Range<UInt64>] = []

  var count: Int { intervals.count }

  mutating func insert(_ interval: Range<UInt64>) {
    let start = firstIndex { $0.upperBound >= interval.lowerBound }
    let end = firstIndex { $0.lowerBound > interval.upperBound }
    var merged = interval
    if start < end {
      let lower = min(interval.lowerBound, intervals[start].lowerBound)
      let upper = max(interval.upperBound, intervals[end - 1].upperBound)
      merged = lower..<upper
    }
    intervals.replaceSubrange(start..<end, with: CollectionOfOne(merged))
  }

  func contains(_ interval: Range<UInt64>) -> Bool {
    let index = firstIndex { $0.upperBound > interval.lowerBound }
    return index < intervals.count && intervals[index].lowerBound <= interval.lowerBound
      && interval.upperBound <= intervals[index].upperBound
  }

  func gaps(in interval: Range<UInt64>) -> [Range<UInt64>] {
    var gaps: [Range<UInt64>] = []
    var cursor = interval.lowerBound
    var index = firstIndex { $0.upperBound > interval.lowerBound }
    while index < intervals.count, intervals[index].lowerBound < interval.upperBound {
      if cursor < intervals[index].lowerBound { gaps.append(cursor..<intervals[index].lowerBound) }
      cursor = intervals[index].upperBound
      index += 1
    }
    if cursor < interval.upperBound { gaps.append(cursor..<interval.upperBound) }
    return gaps
  }

  private func firstIndex(where predicate: (Range<UInt64>) -> Bool) -> Int {
    var low = 0
    var high = intervals.count
    while low < high {
      let middle = (low + high) / 2
      if predicate(intervals[middle]) { high = middle } else { low = middle + 1 }
    }
    return low
  }
}

private func measure(_ body: () -> Void) -> Duration {
  ContinuousClock().measure(body)
}

private func seconds(_ duration: Duration) -> Double {
  let (seconds, attoseconds) = duration.components
  return Double(seconds) + Double(attoseconds) * 1e-18
}

private func formatted(_ duration: Duration) -> String {
  String(format: "%.3f s", seconds(duration))
}

private func nanoseconds(_ duration: Duration, per operations: Int) -> String {
  String(format: "%.0f ns", seconds(duration) / Double(operations) * 1e9)
}

/// The resident set size of this process in KiB, from the `VmRSS` line of /proc/self/status.
private func residentSetKilobytes() -> Int {
  guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
    let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
  else { return 0 }
  return line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
}
