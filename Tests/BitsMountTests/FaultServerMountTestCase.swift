import Foundation
import TestSupport

/// A mount test with the project's fault-injecting server beside nginx, serving `faultRoot`.
class FaultServerMountTestCase: MountTestCase {
  var faultServer: FaultServer!
  var faultRoot: URL!

  override func setUpWithError() throws {
    try super.setUpWithError()
    faultRoot = workDirectory.appendingPathComponent("www")
    try FileManager.default.createDirectory(at: faultRoot, withIntermediateDirectories: true)
    faultServer = try FaultServer(root: faultRoot)
  }

  override func tearDown() {
    faultServer?.stop()
    super.tearDown()
  }
}
