import CCurl

extension BitsError {
  /// The BITS error for a libcurl failure of a transfer of `url`.
  static func curl(_ code: CURLcode, url: String) -> BitsError {
    let reason = String(cString: curl_easy_strerror(code))
    switch code {
    case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
      return BitsError(.connectFailure, "cannot connect to the server: \(reason)", url: url)
    case CURLE_OPERATION_TIMEDOUT:
      return BitsError(.timedOut, "the server stopped answering: \(reason)", url: url)
    case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
      return BitsError(.invalidArgument, "unsupported or malformed URL: \(reason)", url: url)
    case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CONNECT_ERROR:
      return BitsError(
        .certificateInvalid,
        "TLS verification failed: \(reason) (trust its certificate authority with --ca-cert FILE)", url: url)
    default:
      return BitsError(.connectionClosed, "the connection failed: \(reason)", url: url)
    }
  }
}
