"use strict";
// The console's event stream, run in a worker (feed.js starts it once the page shows its first data).
// A stream the page opened itself would be a request that never ends: a headless browser that waits for the
// network to go quiet before it takes a screenshot would wait forever. Each event is passed on as it comes.
if (typeof EventSource === "undefined") {
  postMessage({ type: "unsupported" });
} else {
  const source = new EventSource("/api/v1/alerts/stream");
  for (const type of ["hello", "transition", "action", "reload"]) {
    source.addEventListener(type, (event) => postMessage({ type, data: event.data }));
  }
  source.onerror = () => postMessage({ type: "error" });
}
