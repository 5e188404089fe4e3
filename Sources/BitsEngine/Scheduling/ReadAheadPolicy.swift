/// What to read ahead for one reader (an open file handle), from the evidence of its reads: a
/// pure value with no locks and no I/O. The window is proportional to what the reader has read
/// sequentially so far, never to how many read calls came, so a short sequential burst (a page
/// pair, a tile, a column chunk) earns at most a small multiple of itself, and only a long
/// stream earns the maximum.
///
/// - A read that continues the current run extends it: one that starts within one read (of the
///   largest size the run has seen) of the run, before or after it, since the kernel's own
///   read-ahead and page faults may deliver reads out of order. Any other read
///   starts a new run, and the read-ahead not yet started for the old one is to be dropped.
/// - A run's length is the bytes read in it, not the span it covers: a reader skipping ahead
///   earns nothing for what it skipped.
/// - Nothing is read ahead until the run is `minimumRun` long (2 MiB: longer than the single
///   reads tools make of a tile or a column chunk, which the kernel delivers as several
///   adjacent reads); then the window is as long as the run, and four times as long once the
///   run is a stream (`streamRun`, 8 MiB, longer than any probe a tool makes), up to `maximum`.
/// - A read's own missing bytes are fetched in aligned blocks (`block`) once its run is that
///   long, and only its pages before: an isolated read (a B-tree page, a tar header, a page
///   fault) fetches what it asked for, not a block around it.
/// - More is asked for only once the reader has used half of what was asked ahead, so requests
///   stay large and a reader that stops leaves at most one window unread.
package struct ReadAheadPolicy: Sendable, Equatable {
  package struct Limits: Sendable, Equatable {
    /// The largest window; 0 turns read-ahead off.
    public var maximum: UInt64
    /// The run a reader must have read sequentially before anything is read ahead.
    public var minimumRun: UInt64
    /// How far before the end of the run, or (at most) after it, a read still continues it.
    public var slack: UInt64
    /// From this length on a run is a stream and its window grows four times as fast.
    public var streamRun: UInt64
    /// The alignment of what a read of a run at least `minimumRun` long fetches.
    public var block: UInt64
    /// The alignment of what any other read fetches: the kernel's page.
    public var page: UInt64

    public init(
      maximum: UInt64, minimumRun: UInt64 = 2 << 20, slack: UInt64 = 512 << 10, streamRun: UInt64 = 8 << 20,
      block: UInt64 = 64 << 10, page: UInt64 = 4096
    ) {
      self.maximum = maximum
      self.minimumRun = minimumRun
      self.slack = slack
      self.streamRun = streamRun
      self.block = block
      self.page = min(page, block)
    }
  }

  /// What to do after a read.
  package struct Decision: Sendable, Equatable {
    /// The alignment of the blocks in which the read's own missing bytes are fetched.
    public var alignment: UInt64
    /// Bytes to fetch ahead of the reader.
    public var fetch: Range<UInt64>?
    /// Bytes asked ahead for a run the reader left: drop what of them has not started.
    public var drop: Range<UInt64>?
  }

  package let limits: Limits
  private var run: Range<UInt64>?
  /// Bytes read in the run, and the largest single read.
  private var readInRun: UInt64 = 0
  private var largestRead: UInt64 = 0
  /// Where read-ahead asked so far ends (at or past the run's end).
  private var aheadEnd: UInt64 = 0

  package init(limits: Limits) {
    self.limits = limits
  }

  /// The reader read `range` of a file of `fileSize` bytes.
  package mutating func read(_ range: Range<UInt64>, fileSize: UInt64) -> Decision {
    guard let current = run, continues(current, with: range) else {
      let abandoned = run.flatMap { run in aheadEnd > run.upperBound ? run.upperBound..<aheadEnd : nil }
      run = range
      readInRun = UInt64(range.count)
      largestRead = UInt64(range.count)
      aheadEnd = range.upperBound
      return Decision(alignment: limits.page, fetch: nil, drop: abandoned)
    }
    let extended = min(current.lowerBound, range.lowerBound)..<max(current.upperBound, range.upperBound)
    run = extended
    readInRun += UInt64(range.count)
    largestRead = max(largestRead, UInt64(range.count))
    aheadEnd = max(aheadEnd, extended.upperBound)
    let length = readInRun
    guard length >= limits.minimumRun else { return Decision(alignment: limits.page, fetch: nil, drop: nil) }
    let idle = Decision(alignment: limits.block, fetch: nil, drop: nil)
    guard limits.maximum > 0 else { return idle }
    // A run as long as `streamRun` is a stream, not a burst: it earns four times its length.
    let earned = length < limits.streamRun ? length : length.multipliedReportingOverflow(by: 4).partialValue
    let window = min(limits.maximum, earned)
    let unused = aheadEnd - extended.upperBound
    guard unused < window / 2 else { return idle }
    let (target, overflow) = extended.upperBound.addingReportingOverflow(window)
    let end = overflow ? fileSize : min(fileSize, target)
    guard end > aheadEnd else { return idle }
    defer { aheadEnd = end }
    return Decision(alignment: limits.block, fetch: aheadEnd..<end, drop: nil)
  }

  /// Whether `range` lies within one read (of the largest size seen) of the run, before or
  /// after it.
  private func continues(_ run: Range<UInt64>, with range: Range<UInt64>) -> Bool {
    let reach = min(limits.slack, max(largestRead, UInt64(range.count)))
    let (after, overflow) = run.upperBound.addingReportingOverflow(reach)
    let before = run.lowerBound >= reach ? run.lowerBound - reach : 0
    return range.lowerBound >= before && (overflow || range.lowerBound <= after)
  }
}
