// MARK: serves the index document for a folder and the error document for a path that
// names no file (a route of the page); everything else goes to the bucket as asked.
var INDEX = INDEX_DOCUMENT;
var FALLBACK = ERROR_PATH;
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.charAt(uri.length - 1) === '/') {
    request.uri = uri + INDEX;
  } else if (uri.substring(uri.lastIndexOf('/') + 1).indexOf('.') === -1) {
    request.uri = FALLBACK;
  }
  return request;
}
