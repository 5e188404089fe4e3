/// What to read ahead for one reader (an open file handle), from the evidence of its reads: a
/// pure value with no locks and no I/O. The window is proportional to what the reader has read
/// sequentially so far, never to how many read calls came, so a short sequential burst (a page
/// pair, a tile, a column chunk) earns at most a small multiple of itself, and only a long
/// stream earns the maximum.
///
/// - A read that continues the current run (within `slack` of where it ended, since the
///   kernel's own read-ahead and page faults may deliver reads a little out of order) extends
///   it; any other read starts a new run, and the read-ahead not yet started for the old one is
///   to be dropped.
/// - Nothing is read ahead until the run is `minimumRun` long; then the window is as long as
///   the run, up to `maximum`.
/// - More is asked for only once the reader has used half of what was asked ahead, so requests
///   stay large and a reader that stops leaves at most one window unread.
public struct ReadAheadPolicy: Sendable, Equatable {
  public struct Limits: Sendable, Equatable {
    /// The largest window; 0 turns read-ahead off.
    public var maximum: UInt64
    /// The run a reader must have read sequentially before anything is read ahead.
    public var minimumRun: UInt64
    /// How far before or after the end of the run a read still continues it.
    public var slack: UInt64

    public init(maximum: UInt64, minimumRun: UInt64 = 256 << 10, slack: UInt64 = 512 << 10) {
      self.maximum = maximum
      self.minimumRun = minimumRun
      self.slack = slack
    }
  }

  /// What to do after a read.
  public struct Decision: Sendable, Equatable {
    /// Bytes to fetch ahead of the reader.
    public var fetch: Range<UInt64>?
    /// Bytes asked ahead for a run the reader left: drop what of them has not started.
    public var drop: Range<UInt64>?
  }

  public let limits: Limits
  private var run: Range<UInt64>?
  /// Where read-ahead asked so far ends (at or past the run's end).
  private var aheadEnd: UInt64 = 0

  public init(limits: Limits) {
    self.limits = limits
  }

  /// The reader read `range` of a file of `fileSize` bytes.
  public mutating func read(_ range: Range<UInt64>, fileSize: UInt64) -> Decision {
    guard let current = run, continues(current, with: range) else {
      let abandoned = run.flatMap { run in aheadEnd > run.upperBound ? run.upperBound..<aheadEnd : nil }
      run = range
      aheadEnd = range.upperBound
      return Decision(fetch: nil, drop: abandoned)
    }
    let extended = current.lowerBound..<max(current.upperBound, range.upperBound)
    run = extended
    aheadEnd = max(aheadEnd, extended.upperBound)
    let length = UInt64(extended.count)
    guard limits.maximum > 0, length >= limits.minimumRun else { return Decision(fetch: nil, drop: nil) }
    let window = min(limits.maximum, length)
    let unused = aheadEnd - extended.upperBound
    guard unused < window / 2 else { return Decision(fetch: nil, drop: nil) }
    let (target, overflow) = extended.upperBound.addingReportingOverflow(window)
    let end = overflow ? fileSize : min(fileSize, target)
    guard end > aheadEnd else { return Decision(fetch: nil, drop: nil) }
    defer { aheadEnd = end }
    return Decision(fetch: aheadEnd..<end, drop: nil)
  }

  private func continues(_ run: Range<UInt64>, with range: Range<UInt64>) -> Bool {
    let (reach, overflow) = run.upperBound.addingReportingOverflow(limits.slack)
    let lowest = run.upperBound >= limits.slack ? run.upperBound - limits.slack : 0
    return range.lowerBound >= max(run.lowerBound, lowest) && (overflow || range.lowerBound <= reach)
  }
}
