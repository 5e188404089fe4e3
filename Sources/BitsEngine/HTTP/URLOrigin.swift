import CCurl

/// A URL's scheme, host and port (RFC 6454), read by libcurl's own URL parser so that it is the
/// host libcurl will connect to. Headers given for one origin go to that origin alone.
struct URLOrigin: Hashable, CustomStringConvertible {
  let scheme: String
  /// Empty for URLs without a host, such as `file:///etc/passwd`.
  let host: String
  /// The port, the scheme's default when the URL names none; empty for schemes libcurl does
  /// not know.
  let port: String

  init?(_ url: String) {
    guard let handle = curl_url() else { return nil }
    defer { curl_url_cleanup(handle) }
    guard curl_url_set(handle, CURLUPART_URL, url, UInt32(CURLU_NON_SUPPORT_SCHEME)) == CURLUE_OK,
      let scheme = Self.part(CURLUPART_SCHEME, of: handle)
    else { return nil }
    self.scheme = scheme.lowercased()
    host = Self.part(CURLUPART_HOST, of: handle)?.lowercased() ?? ""
    port = Self.part(CURLUPART_PORT, of: handle, flags: UInt32(CURLU_DEFAULT_PORT)) ?? ""
  }

  var isHTTP: Bool { scheme == "http" || scheme == "https" }

  var description: String { port.isEmpty ? "\(scheme)://\(host)" : "\(scheme)://\(host):\(port)" }

  private static func part(_ part: CURLUPart, of handle: OpaquePointer, flags: UInt32 = 0) -> String? {
    var value: UnsafeMutablePointer<CChar>?
    guard curl_url_get(handle, part, &value, flags) == CURLUE_OK, let value else { return nil }
    defer { curl_free(value) }
    return String(cString: value)
  }
}
