import CCurl

/// One libcurl easy handle and what its callbacks have seen, across the redirects it follows.
/// It lives on its network thread only, as libcurl requires of an easy handle in a multi
/// handle; it is not `Sendable`.
final class CurlTransfer {
  let id: TransferID
  let request: HTTPRequest
  let receiver: any HTTPTransferReceiver
  private(set) var easy: UnsafeMutableRawPointer?
  private var headerList: UnsafeMutablePointer<curl_slist>?
  private var head = HTTPResponseHead(status: 0, headers: [:])
  private var redirects: RedirectChain
  /// Whether the request's own headers went with the current hop.
  private var sendsRequestHeaders = false
  private let started = ContinuousClock.now
  /// When the server last sent anything (a head line, body bytes), or the connection was made,
  /// for stall detection; `nil` while the request waits for a connection.
  private(set) var lastActivity: ContinuousClock.Instant?
  /// Whether receiving is paused (`curl_easy_pause`); a paused transfer is not stalled.
  private(set) var isPaused = false
  private var headDelivered = false
  /// Body bytes delivered to the receiver so far.
  private var bodyOffset: UInt64 = 0
  /// libcurl hands over the body in pieces of at most 16 KiB (`CURL_MAX_WRITE_SIZE`); they are
  /// batched here up to one receive buffer, so a receiver writing them to disk makes one system
  /// call per socket read, not one per 16 KiB.
  private var batch: UnsafeMutableRawBufferPointer?
  private var batchCount = 0
  private var abortReason: BitsError?
  /// libcurl's message for a failure, which names what went wrong more precisely than its code.
  private let errorBuffer: UnsafeMutablePointer<CChar>
  private var reported = false

  init(id: TransferID, request: HTTPRequest, receiver: any HTTPTransferReceiver) {
    self.id = id
    self.request = request
    self.receiver = receiver
    redirects = RedirectChain(url: request.url)
    errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
    errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
  }

  deinit {
    if let easy { curl_easy_cleanup(easy) }
    curl_slist_free_all(headerList)
    batch?.deallocate()
    errorBuffer.deallocate()
  }

  private static let receiveBufferSize = 512 * 1024

  /// A configured easy handle for the request; any option libcurl refuses fails the request
  /// rather than sending it differently than asked.
  func makeEasyHandle(configuration: HTTPConfiguration) throws(BitsError) -> UnsafeMutableRawPointer {
    guard let easy = curl_easy_init() else {
      throw BitsError(.connectionClosed, "libcurl could not make a request (out of memory)", url: request.url)
    }
    self.easy = easy
    let context = Unmanaged.passUnretained(self).toOpaque()
    let options = EasyOptions(easy: easy, url: request.url)
    try options.set(CURLOPT_PROTOCOLS_STR, "http,https")
    // Redirects are followed by `followRedirect`, which decides what goes to each hop.
    try options.set(CURLOPT_FOLLOWLOCATION, 0)
    try options.set(CURLOPT_NOSIGNAL, 1)
    try options.set(CURLOPT_TCP_KEEPALIVE, 1)
    try options.set(CURLOPT_BUFFERSIZE, Self.receiveBufferSize)
    try options.set(CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.milliseconds))
    try options.set(CURLOPT_SSL_VERIFYPEER, configuration.verifiesTLS ? 1 : 0)
    try options.set(CURLOPT_SSL_VERIFYHOST, configuration.verifiesTLS ? 2 : 0)
    if let path = configuration.certificateAuthorityPath { try options.set(CURLOPT_CAINFO, path) }
    try options.set(CURLOPT_USERAGENT, configuration.userAgent)
    try options.check(bitsfs_easy_set_pointer(easy, CURLOPT_PRIVATE, context), CURLOPT_PRIVATE)
    try options.check(bitsfs_easy_set_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), CURLOPT_ERRORBUFFER)
    if let range = request.range {
      try options.set(CURLOPT_RANGE, "\(range.lowerBound)-\(range.upperBound - 1)")
    }
    try aim(options, configuration: configuration)
    try options.check(bitsfs_easy_set_pointer(easy, CURLOPT_HEADERDATA, context), CURLOPT_HEADERDATA)
    try options.check(
      bitsfs_easy_set_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, context in
        guard let data, let context else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
        transfer.lastActivity = .now
        transfer.head.add(lines: UnsafeRawBufferPointer(start: data, count: size * count))
        return size * count
      }, CURLOPT_HEADERFUNCTION)
    try options.check(bitsfs_easy_set_pointer(easy, CURLOPT_PREREQDATA, context), CURLOPT_PREREQDATA)
    try options.check(
      bitsfs_easy_set_prereq(easy) { context, _, _, _, _ in
        guard let context else { return Int32(CURL_PREREQFUNC_OK) }
        Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue().lastActivity = .now
        return Int32(CURL_PREREQFUNC_OK)
      }, CURLOPT_PREREQFUNCTION)
    try options.check(bitsfs_easy_set_pointer(easy, CURLOPT_WRITEDATA, context), CURLOPT_WRITEDATA)
    try options.check(
      bitsfs_easy_set_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, context in
        guard let data, let context else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
        transfer.lastActivity = .now
        let accepted = transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
        // Any count other than the one given makes libcurl stop with CURLE_WRITE_ERROR.
        return accepted ? size * count : 0
      }, CURLOPT_WRITEFUNCTION)
    return easy
  }

  /// Pauses or resumes receiving. Bytes libcurl held back reach the write callback as it
  /// resumes; the stall clock starts afresh then, since the server was not asked to send.
  func setPaused(_ paused: Bool) {
    guard let easy, curl_easy_pause(easy, paused ? CURLPAUSE_RECV : CURLPAUSE_CONT) == CURLE_OK else { return }
    isPaused = paused
    if !paused, lastActivity != nil { lastActivity = .now }
  }

  /// Points the handle at the current URL with the headers that may go there.
  private func aim(_ options: EasyOptions, configuration: HTTPConfiguration) throws(BitsError) {
    try options.set(CURLOPT_URL, redirects.url)
    sendsRequestHeaders = redirects.sendsRequestHeaders(configuration)
    var lines = sendsRequestHeaders ? request.headers.map { "\($0.name): \($0.value)" } : []
    // Bytes in a content coding (gzip, br) are not the file's: ask for none, unless the user chose.
    if sentAcceptEncoding == nil { lines.append("Accept-Encoding: identity") }
    if let ifRange = request.ifRange { lines.append("If-Range: \(ifRange)") }
    var list: UnsafeMutablePointer<curl_slist>?
    for line in lines {
      guard let appended = curl_slist_append(list, line) else {
        curl_slist_free_all(list)
        throw BitsError(.connectionClosed, "libcurl could not add a header (out of memory)", url: request.url)
      }
      list = appended
    }
    // The handle holds the list it was given until it is given another.
    let previous = headerList
    headerList = list
    defer { curl_slist_free_all(previous) }
    try options.check(bitsfs_easy_set_slist(options.easy, CURLOPT_HTTPHEADER, list), CURLOPT_HTTPHEADER)
  }

  /// The `Accept-Encoding` of the user's own headers, when they went with the current hop.
  private var sentAcceptEncoding: String? {
    guard sendsRequestHeaders else { return nil }
    return request.headers.last { $0.name.lowercased() == "accept-encoding" }?.value
  }

  /// Whether the answer received is a redirect to follow rather than the final answer.
  var receivedRedirect: Bool {
    [301, 302, 303, 307, 308].contains(head.status) && head["location"] != nil
  }

  /// Aims the handle, taken out of its multi handle, at the target of the redirect just
  /// received; throws when that target may not be followed.
  func followRedirect(configuration: HTTPConfiguration) throws(BitsError) {
    guard let easy else { return }
    var location: UnsafeMutablePointer<CChar>?
    // libcurl resolves a relative Location against the URL it came from.
    guard bitsfs_easy_get_string(easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK, let location else {
      throw BitsError(.invalidServerResponse, "a redirect without a usable Location", url: request.url)
    }
    try redirects.follow(to: String(cString: location), configuration: configuration)
    head = HTTPResponseHead(status: 0, headers: [:])
    try aim(EasyOptions(easy: easy, url: request.url), configuration: configuration)
  }

  private func deliverHeadIfNeeded() -> Bool {
    guard !headDelivered else { return abortReason == nil }
    headDelivered = true
    head.finalURL = redirects.url
    let coding = ServerRules.checkContentCoding(head, userAcceptEncoding: sentAcceptEncoding, url: request.url)
    if case .abort(let error) = coding {
      abortReason = error
      return false
    }
    if case .abort(let error) = receiver.transferDidReceiveHead(head) {
      abortReason = error
      return false
    }
    return true
  }

  private func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
    // A redirect's body is a note for people, not the file.
    guard !receivedRedirect else { return true }
    guard deliverHeadIfNeeded() else { return false }
    if batchCount + bytes.count > Self.receiveBufferSize {
      guard deliverReceivedBody() else { return false }
    }
    if bytes.count >= Self.receiveBufferSize { return deliver(bytes) }
    let batch = batch ?? .allocate(byteCount: Self.receiveBufferSize, alignment: 16)
    self.batch = batch
    UnsafeMutableRawBufferPointer(rebasing: batch[batchCount...]).copyMemory(from: bytes)
    batchCount += bytes.count
    return true
  }

  /// Hands the batched body bytes to the receiver; `false` once the receiver refused bytes.
  func deliverReceivedBody() -> Bool {
    guard abortReason == nil else { return false }
    guard let batch, batchCount > 0 else { return true }
    let count = batchCount
    batchCount = 0
    return deliver(UnsafeRawBufferPointer(rebasing: batch[..<count]))
  }

  private func deliver(_ bytes: UnsafeRawBufferPointer) -> Bool {
    if case .abort(let error) = receiver.transferDidReceive(bytes, bodyOffset: bodyOffset) {
      abortReason = error
      return false
    }
    bodyOffset += UInt64(bytes.count)
    return true
  }

  func outcome(for code: CURLcode) -> Result<Void, BitsError> {
    if let abortReason { return .failure(abortReason) }
    if code == CURLE_OK {
      // A response without a body (a 416, an empty file) reaches the receiver only here.
      if !deliverHeadIfNeeded(), let abortReason { return .failure(abortReason) }
      return .success(())
    }
    var verifyResult = 0
    if let easy { _ = bitsfs_easy_get_long(easy, CURLINFO_SSL_VERIFYRESULT, &verifyResult) }
    return .failure(.curl(code, url: request.url, detail: String(cString: errorBuffer), verifyResult: verifyResult))
  }

  func report(_ outcome: Result<Void, BitsError>, trace: (@Sendable (String) -> Void)?) {
    guard !reported else { return }
    reported = true
    if let trace {
      let range = request.range.map { "\($0.lowerBound)-\($0.upperBound - 1)" } ?? "all"
      let milliseconds = (ContinuousClock.now - started).milliseconds
      let result: String
      switch outcome {
      case .success: result = "ok"
      case .failure(let error): result = error.code.name
      }
      trace(
        "GET \(shownURL(request.url)) bytes=\(range) status=\(head.status) received=\(bodyOffset) \(milliseconds)ms \(result)"
      )
    }
    receiver.transferDidFinish(outcome)
  }
}

@available(*, unavailable, message: "an easy handle belongs to its network thread")
extension CurlTransfer: Sendable {}

/// Sets options on an easy handle, turning the first one libcurl refuses into an error that
/// names it.
private struct EasyOptions {
  let easy: UnsafeMutableRawPointer
  let url: String

  func set(_ option: CURLoption, _ value: Int) throws(BitsError) {
    try check(bitsfs_easy_set_long(easy, option, value), option)
  }

  func set(_ option: CURLoption, _ value: String) throws(BitsError) {
    try check(bitsfs_easy_set_string(easy, option, value), option)
  }

  func check(_ code: CURLcode, _ option: CURLoption) throws(BitsError) {
    guard code == CURLE_OK else {
      let reason = String(cString: curl_easy_strerror(code))
      throw BitsError(.invalidArgument, "libcurl refused option \(option.rawValue): \(reason)", url: url)
    }
  }
}
