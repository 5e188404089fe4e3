import Glibc

/// The BITS result codes the engine produces, with their `HRESULT` values from `bitsmsg.h`.
public enum BitsErrorCode: Hashable, Sendable {
  case invalidArgument
  case accessDenied
  case diskFull
  case invalidState
  case empty
  case missingFileSize
  case insufficientRangeSupport
  case invalidServerResponse
  case invalidRange
  case overlappingRanges
  case tooManyRangesInFile
  case connectFailure
  case connectionClosed
  case certificateInvalid
  case timedOut
  /// The remote file changed while it was transferred (`BG_E_REMOTE_FILE_CHANGED`).
  case remoteFileChanged
  /// A local file (the cache's data file) changed under the engine (`BG_E_LOCAL_FILE_CHANGED`).
  case localFileChanged
  case cancelled
  /// A local failure of no more specific kind, such as an unexpected errno from the disk.
  case unexpected
  /// An HTTP status the server answered with (`BG_E_HTTP_ERROR_nnn`).
  case httpStatus(Int)

  public var name: String {
    switch self {
    case .invalidArgument: "E_INVALIDARG"
    case .accessDenied: "E_ACCESSDENIED"
    case .diskFull: "ERROR_DISK_FULL"
    case .invalidState: "BG_E_INVALID_STATE"
    case .empty: "BG_E_EMPTY"
    case .missingFileSize: "BG_E_MISSING_FILE_SIZE"
    case .insufficientRangeSupport: "BG_E_INSUFFICIENT_RANGE_SUPPORT"
    case .invalidServerResponse: "BG_E_INVALID_SERVER_RESPONSE"
    case .invalidRange: "BG_E_INVALID_RANGE"
    case .overlappingRanges: "BG_E_OVERLAPPING_RANGES"
    case .tooManyRangesInFile: "BG_E_TOO_MANY_RANGES_IN_FILE"
    case .connectFailure: "BG_E_CONNECT_FAILURE"
    case .connectionClosed: "BG_E_CONNECTION_CLOSED"
    case .certificateInvalid: "ERROR_INTERNET_INVALID_CA"
    case .timedOut: "ERROR_INTERNET_TIMEOUT"
    case .remoteFileChanged: "BG_E_REMOTE_FILE_CHANGED"
    case .localFileChanged: "BG_E_LOCAL_FILE_CHANGED"
    case .cancelled: "E_ABORT"
    case .unexpected: "E_FAIL"
    case .httpStatus(let status): "BG_E_HTTP_ERROR_\(status)"
    }
  }

  public var hresult: UInt32 {
    switch self {
    case .invalidArgument: 0x8007_0057
    case .accessDenied: 0x8007_0005
    case .diskFull: 0x8007_0070
    case .invalidState: 0x8020_0002
    case .empty: 0x8020_0003
    case .missingFileSize: 0x8020_0011
    case .insufficientRangeSupport: 0x8020_0013
    case .invalidServerResponse: 0x8020_001B
    case .invalidRange: 0x8020_002B
    case .overlappingRanges: 0x8020_002C
    case .tooManyRangesInFile: 0x8020_0052
    case .connectFailure: 0x8020_002D
    case .connectionClosed: 0x8020_002E
    case .certificateInvalid: 0x8007_2F0D
    case .timedOut: 0x8007_2EE2
    case .remoteFileChanged: 0x8020_0073
    case .localFileChanged: 0x8020_001D
    case .cancelled: 0x8000_4004
    case .unexpected: 0x8000_4005
    case .httpStatus(let status): 0x8019_0000 | UInt32(truncatingIfNeeded: status)
    }
  }

  /// Whether a job that met this error should try again after a pause (`BG_JOB_STATE_TRANSIENT_ERROR`).
  public var isTransient: Bool {
    switch self {
    case .connectFailure, .connectionClosed, .timedOut: true
    case .httpStatus(let status): status >= 500 || status == 429 || status == 408
    default: false
    }
  }
}

/// An error as BITS reports it: a code, a description, and the file it concerns if any.
public struct BitsError: Error, Hashable, Sendable, CustomStringConvertible {
  public var code: BitsErrorCode
  public var message: String
  public var url: String?

  public init(_ code: BitsErrorCode, _ message: String, url: String? = nil) {
    self.code = code
    self.message = message
    self.url = url
  }

  public var description: String {
    let subject = url.map { " (\($0))" } ?? ""
    return "\(codeDescription): \(message)\(subject)"
  }

  /// The code's name and HRESULT, e.g. `BG_E_HTTP_ERROR_500 (0x801901F4)`.
  package var codeDescription: String {
    "\(code.name) (0x\(String(code.hresult, radix: 16, uppercase: true)))"
  }

  /// The error as log metadata: its code and message, without the URL (logs show URLs without
  /// their credentials, once, under a key of their own).
  package var logFields: [String: String] {
    ["code": codeDescription, "reason": message]
  }
}

extension BitsError {
  /// An error of the local file system, mapped to the code BITS would report.
  public static func localFile(errno code: Int32, _ message: String, path: String) -> BitsError {
    let reason = String(cString: strerror(code))
    switch code {
    case ENOSPC, EDQUOT: return BitsError(.diskFull, "\(message): \(reason)", url: path)
    case EACCES, EPERM, EROFS: return BitsError(.accessDenied, "\(message): \(reason)", url: path)
    default: return BitsError(.unexpected, "\(message): \(reason)", url: path)
    }
  }
}
