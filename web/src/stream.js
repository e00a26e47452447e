// Server-Sent Events over fetch rather than EventSource: EventSource cannot send an
// Authorization header, and a token in the URL ends up in proxy and server logs. The parsing
// follows the HTML standard's event stream format; reconnection resumes from the last event id.

export function follow(hub, path, { cursor = 0, onEvent, onStatus }) {
  const control = new AbortController();
  let lastId = cursor;
  let retryMs = 2000;
  let failures = 0;

  async function connect() {
    while (!control.signal.aborted) {
      onStatus("connecting");
      try {
        const response = await hub.request("GET", path, {
          params: { cursor: lastId },
          signal: control.signal,
          accept: "text/event-stream",
        });
        if (response.status === 404) {
          onStatus("unavailable");
          return;
        }
        if (!response.ok || !response.body) throw new Error(`the stream answered ${response.status}`);
        onStatus("live");
        failures = 0;
        await read(response.body);
      } catch (err) {
        if (control.signal.aborted) return;
        failures += 1;
        onStatus("offline", err.message);
      }
      // Back off when the hub keeps failing, but never wait more than 30 s to come back.
      const wait = Math.min(30_000, retryMs * 2 ** Math.min(failures, 4));
      await new Promise((resolve) => setTimeout(resolve, failures ? wait : retryMs));
    }
  }

  async function read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  function dispatch(block) {
    let event = "message";
    const data = [];
    let id = null;
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue; // a comment: the hub's keep-alive
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (name === "event") event = value;
      else if (name === "data") data.push(value);
      else if (name === "id") id = value;
      else if (name === "retry" && /^\d+$/.test(value)) retryMs = Number(value);
    }
    if (id !== null && /^\d+$/.test(id)) lastId = Number(id);
    if (data.length) onEvent(event, data.join("\n"));
  }

  connect();
  return () => control.abort();
}
