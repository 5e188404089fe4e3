import FoundationEssentials

/// `url` without user name, password, query string or fragment, fit to show: a presigned URL's
/// query is a credential, and what is shown travels (attributes with copies of a file, listings
/// into terminals and logs).
package func shownURL(_ url: String) -> String {
  guard var components = URLComponents(string: url) else { return "" }
  components.user = nil
  components.password = nil
  components.query = nil
  components.fragment = nil
  return components.string ?? ""
}
