import BitsEngine
import Foundation

// Interval-map figures: a million disjoint ranges in the engine's ByteRangeSet, against a plain
// sorted array (binary search + insert) as the baseline, in the same run.

var generator = SystemRandomNumberGenerator()
let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 1_000_000

func residentKilobytes() -> Int {
  let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
  let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
  return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

func measure(_ body: () -> Void) -> Double {
  let start = ContinuousClock.now
  body()
  let elapsed = ContinuousClock.now - start
  let (seconds, attoseconds) = elapsed.components
  return Double(seconds) + Double(attoseconds) * 1e-18
}

// Disjoint intervals [10i, 10i+5), inserted in random order.
let order = (0..<count).shuffled(using: &generator)
let queries = (0..<count).map { _ in UInt64.random(in: 0..<UInt64(count) * 10, using: &generator) }

let before = residentKilobytes()
var set = ByteRangeSet()
let insertSeconds = measure {
  for index in order { set.insert(UInt64(index) * 10..<UInt64(index) * 10 + 5) }
}
let setKilobytes = residentKilobytes() - before
var gapCount = 0
let gapSeconds = measure {
  for offset in queries { gapCount += set.gaps(in: offset..<offset + 64).count }
}
var hits = 0
let containsSeconds = measure {
  for offset in queries where set.contains(offset..<offset + 3) { hits += 1 }
}
precondition(set.count == count)

// Baseline: one sorted array of intervals, binary search then Array.insert.
let baselineCount = min(count, 200_000)
var array: [Range<UInt64>] = []
let baselineSeconds = measure {
  for index in order.prefix(baselineCount) {
    let interval = UInt64(index) * 10..<UInt64(index) * 10 + 5
    var low = 0
    var high = array.count
    while low < high {
      let middle = (low + high) / 2
      if array[middle].lowerBound < interval.lowerBound { low = middle + 1 } else { high = middle }
    }
    array.insert(interval, at: low)
  }
}

func nanoseconds(_ seconds: Double, _ operations: Int) -> String {
  String(format: "%8.0f ns/op", seconds / Double(operations) * 1e9)
}

print("interval map, \(count) disjoint ranges inserted in random order")
print("  ByteRangeSet insert    \(nanoseconds(insertSeconds, count))   total \(String(format: "%.2f", insertSeconds)) s")
print("  ByteRangeSet gaps(in:) \(nanoseconds(gapSeconds, count))   (\(count) queries of 64-byte windows)")
print("  ByteRangeSet contains  \(nanoseconds(containsSeconds, count))")
print("  ByteRangeSet memory    \(setKilobytes / 1024) MiB resident for \(count) ranges")
print(
  "  baseline sorted Array insert \(nanoseconds(baselineSeconds, baselineCount))   (first \(baselineCount) ranges only: it is O(n) per insert)"
)
print(String(format: "  insert speed-up over the baseline at that size: %.1fx", (baselineSeconds / Double(baselineCount)) / (insertSeconds / Double(count))))
_ = (gapCount, hits)
