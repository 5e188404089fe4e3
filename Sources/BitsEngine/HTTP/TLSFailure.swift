/// What a failed certificate check was about, and the advice that fits it: trusting another
/// certificate authority helps with an unknown one, not with an expired certificate or one
/// made out to another host name.
enum TLSFailure: Equatable {
  case unknownAuthority
  case expired
  case notYetValid
  case hostNameMismatch
  case other

  /// Reads OpenSSL's verify result (`CURLINFO_SSL_VERIFYRESULT`, an `X509_V_ERR_*` code; the
  /// libcurl bitsfs links is built on OpenSSL) and libcurl's message, which alone tells a host
  /// name mismatch: libcurl checks names itself, after OpenSSL accepted the chain.
  init(verifyResult: Int, message: String) {
    switch verifyResult {
    // UNABLE_TO_GET_ISSUER_CERT(_LOCALLY), DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN,
    // UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_UNTRUSTED, INVALID_CA.
    case 2, 18, 19, 20, 21, 27, 79: self = .unknownAuthority
    case 9: self = .notYetValid
    case 10: self = .expired
    // HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH.
    case 62, 64: self = .hostNameMismatch
    default:
      let lowered = message.lowercased()
      self = lowered.contains("subject name") || lowered.contains("host name") ? .hostNameMismatch : .other
    }
  }

  /// What is wrong with the certificate.
  var problem: String {
    switch self {
    case .unknownAuthority: "the server's certificate is not signed by a trusted certificate authority"
    case .expired: "the server's certificate has expired"
    case .notYetValid: "the server's certificate is not valid yet"
    case .hostNameMismatch: "the server's certificate is made out to another host name"
    case .other: "the server's certificate could not be verified"
    }
  }

  /// What may put it right, if anything here can.
  var remedy: String? {
    switch self {
    case .unknownAuthority: "trust its authority with --ca-cert FILE"
    case .expired: "the server must renew it, unless this machine's clock is wrong"
    case .notYetValid: "is this machine's clock right?"
    case .hostNameMismatch: "use a URL with a host name the certificate is issued for"
    case .other: nil
    }
  }
}
