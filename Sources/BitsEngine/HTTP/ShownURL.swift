import FoundationEssentials

/// `url` as it may be shown (in logs, attributes, status): without user name, password, query
/// string or fragment. A presigned URL's query is a credential.
package func shownURL(_ url: String) -> String {
  guard var components = URLComponents(string: url) else { return "" }
  components.user = nil
  components.password = nil
  components.query = nil
  components.fragment = nil
  return components.string ?? ""
}
