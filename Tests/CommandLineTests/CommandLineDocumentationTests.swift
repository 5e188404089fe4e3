import Foundation
import TestPrerequisites
import TestSupport
import XCTest

/// The command line as people expect it: `bitsfs --version` names the commit of the build, and
/// the shell completions and the man page, generated from the argument parser, are valid and
/// name every subcommand and every option its help shows.
final class CommandLineDocumentationTests: XCTestCase {
  private let subcommands = ["fetch", "mount", "unmount", "status", "prefetch"]
  private var directory: URL!

  override func setUpWithError() throws {
    try requireBitsfsBinary()
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-doc-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDown() {
    if let directory { try? FileManager.default.removeItem(at: directory) }
  }

  private func bitsfs(_ arguments: [String]) throws -> String {
    let result = try runCommand(bitsfsBinary, arguments, timeout: 30)
    XCTAssertEqual(result.status, 0, result.error)
    return result.output
  }

  /// The long options each subcommand's help lists.
  private func longOptions() throws -> [String: Set<String>] {
    let pattern = try NSRegularExpression(pattern: "(?<![A-Za-z-])--[a-z][a-z-]*")
    var options: [String: Set<String>] = [:]
    for subcommand in subcommands {
      let help = try bitsfs(["help", subcommand])
      let matches = pattern.matches(in: help, range: NSRange(help.startIndex..., in: help))
      options[subcommand] = Set(matches.compactMap { Range($0.range, in: help).map { String(help[$0]) } })
    }
    XCTAssertTrue(options["mount"]?.isSuperset(of: ["--log-file", "--log-level", "--read-ahead-max"]) ?? false)
    XCTAssertTrue(options["status"]?.contains("--json") ?? false)
    return options
  }

  private var sourceDirectory: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  }

  func testVersionNamesTheCommitOfTheBuild() throws {
    let version = try bitsfs(["--version"]).trimmingCharacters(in: .whitespacesAndNewlines)
    XCTAssertTrue(version.hasPrefix("bitsfs "), version)
    let head = try runCommand("/usr/bin/git", ["-C", sourceDirectory.path, "rev-parse", "--short=12", "HEAD"])
    guard head.status == 0 else {
      // Built from a tarball, the binary names no commit; in CI the sources are always a checkout.
      if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("no git checkout: \(head.error)") }
      throw XCTSkip("the sources are not a git checkout: \(head.error)")
    }
    let commit = head.output.trimmingCharacters(in: .whitespacesAndNewlines)
    XCTAssertTrue(version.contains("(commit \(commit)"), "\(version) does not name \(commit)")
  }

  func testCompletionsAreValidAndNameEverySubcommandAndOption() throws {
    let options = try longOptions()
    let checkers = [
      "bash": ["/bin/bash", "-n"], "zsh": ["/usr/bin/zsh", "-n"], "fish": ["/usr/bin/fish", "--no-execute"],
    ]
    for (shell, checker) in checkers.sorted(by: { $0.key < $1.key }) {
      let script = try bitsfs(["--generate-completion-script", shell])
      let file = directory.appendingPathComponent("completion.\(shell)")
      try script.write(to: file, atomically: true, encoding: .utf8)
      guard FileManager.default.isExecutableFile(atPath: checker[0]) else {
        XCTFail("\(checker[0]) is missing: scripts/setup.sh installs it")
        continue
      }
      let checked = try runCommand(checker[0], Array(checker.dropFirst()) + [file.path])
      XCTAssertEqual(checked.status, 0, "\(shell): \(checked.error)")
      for subcommand in subcommands {
        XCTAssertTrue(script.contains(subcommand), "\(shell) completion lacks \(subcommand)")
        for option in options[subcommand] ?? [] where option != "--help" && option != "--version" {
          // fish names options without their dashes (-l log-level).
          let name = shell == "fish" ? String(option.dropFirst(2)) : option
          XCTAssertTrue(script.contains(name), "\(shell) completion lacks \(subcommand) \(option)")
        }
      }
    }
  }

  func testTheManPageRendersAndDocumentsEverySubcommandAndOption() throws {
    let generator = URL(fileURLWithPath: bitsfsBinary).deletingLastPathComponent().appendingPathComponent(
      "generate-manual")
    guard FileManager.default.isExecutableFile(atPath: generator.path) else {
      XCTFail("no \(generator.path): `swift build --product generate-manual` (scripts/test.sh does it)")
      return
    }
    let generated = try runCommand(generator.path, [bitsfsBinary, "--output-directory", directory.path])
    XCTAssertEqual(generated.status, 0, generated.error)
    let page = try String(contentsOf: directory.appendingPathComponent("bitsfs.1"), encoding: .utf8)
    XCTAssertTrue(page.contains(".Dt BITSFS 1"), page)
    let options = try longOptions()
    for subcommand in subcommands {
      XCTAssertTrue(page.contains(".It Em \(subcommand)"), "the man page lacks \(subcommand)")
      for option in options[subcommand] ?? [] {
        // mdoc writes an option as `Fl -name`, after a short one as `Fl n , -name`.
        let name = option.dropFirst()
        XCTAssertTrue(
          page.contains("Fl \(name)") || page.contains(" , \(name)"), "the man page lacks \(subcommand) \(option)")
      }
    }
    let rendered = try runCommand(
      "/usr/bin/groff", ["-mandoc", "-Tutf8", "-ww", "-z", directory.appendingPathComponent("bitsfs.1").path])
    XCTAssertEqual(rendered.status, 0, rendered.error)
    XCTAssertEqual(rendered.error, "", "groff warns about the page")
  }
}
