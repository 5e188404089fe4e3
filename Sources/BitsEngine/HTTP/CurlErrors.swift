import CCurl

extension BitsError {
  /// The BITS error for a libcurl failure of a transfer of `url`. `detail` is libcurl's own
  /// message for it (`CURLOPT_ERRORBUFFER`), more precise than the code's; `verifyResult`
  /// OpenSSL's verdict on the server's certificate (`CURLINFO_SSL_VERIFYRESULT`).
  static func curl(_ code: CURLcode, url: String, detail: String, verifyResult: Int) -> BitsError {
    let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
    switch code {
    case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
      return BitsError(.connectFailure, "cannot connect to the server: \(reason)", url: url)
    case CURLE_OPERATION_TIMEDOUT:
      return BitsError(.timedOut, "the server stopped answering: \(reason)", url: url)
    case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
      return BitsError(.invalidArgument, "unsupported or malformed URL: \(reason)", url: url)
    case CURLE_PEER_FAILED_VERIFICATION:
      let failure = TLSFailure(verifyResult: verifyResult, message: reason)
      let remedy = failure.remedy.map { "; \($0)" } ?? ""
      return BitsError(
        .certificateInvalid, "TLS verification failed: \(failure.problem) (\(reason))\(remedy)", url: url)
    case CURLE_SSL_CACERT_BADFILE:
      return BitsError(
        .certificateInvalid, "cannot use the certificate authorities file: \(reason) (check --ca-cert FILE)", url: url)
    case CURLE_SSL_CONNECT_ERROR:
      return BitsError(.certificateInvalid, "the TLS handshake failed: \(reason)", url: url)
    default:
      return BitsError(.connectionClosed, "the connection failed: \(reason)", url: url)
    }
  }
}
