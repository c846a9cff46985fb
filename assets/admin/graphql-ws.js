// A small client for GraphQL subscriptions over WebSocket, speaking the
// graphql-transport-ws protocol (the one npm's graphql-ws speaks). Shared by
// the admin console and the dashboard; plain JavaScript, no build step.
//
//   const client = GraphQLWs.createClient({
//     url: GraphQLWs.sameOriginUrl("/graphql"),
//     connectionParams: () => ({ authorization: "Bearer " + token }),
//     onStatus: (status, detail) => { ... },  // "connecting", "live", "retrying", "refused", "closed"
//   });
//   const stop = client.subscribe({ query, variables }, { next, error, complete });
//
// The socket opens with the first subscription and closes shortly after the
// last one ends. When it drops, it reconnects with growing, jittered delays and
// subscribes again; each subscription's first answer is then the current state.
"use strict";

(function (global) {
  const PROTOCOL = "graphql-transport-ws";
  // Close codes after which trying again cannot help: a bad message (4400),
  // a missing or refused token (4401, 4403).
  const FATAL_CLOSES = { 4400: "BAD_REQUEST", 4401: "UNAUTHENTICATED", 4403: "FORBIDDEN" };
  const ACK_TIMEOUT_MS = 10000;
  const LINGER_MS = 1000;
  const FIRST_RETRY_MS = 500;
  const LONGEST_RETRY_MS = 30000;

  /** The ws:// or wss:// URL of `path` on this page's origin. */
  function sameOriginUrl(path) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + location.host + path;
  }

  function createClient({ url, connectionParams, onStatus }) {
    const active = new Map(); // subscription id -> { payload, sink }
    let socket = null;
    let acknowledged = false;
    let retries = 0;
    let retryTimer = null;
    let lingerTimer = null;
    let ackTimer = null;
    let nextId = 1;
    let disposed = false;

    const status = (name, detail) => { if (onStatus) onStatus(name, detail); };

    function send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    }

    function connect() {
      clearTimeout(retryTimer);
      retryTimer = null;
      if (disposed || socket || active.size === 0) return;
      status("connecting");
      acknowledged = false;
      const ws = new WebSocket(url, PROTOCOL);
      socket = ws;
      ws.onopen = () => {
        const payload = connectionParams ? connectionParams() : undefined;
        ws.send(JSON.stringify(payload ? { type: "connection_init", payload } : { type: "connection_init" }));
        ackTimer = setTimeout(() => ws.close(4408, "no connection_ack"), ACK_TIMEOUT_MS);
      };
      ws.onmessage = (event) => receive(ws, event.data);
      ws.onclose = (event) => closed(ws, event);
    }

    function receive(ws, text) {
      let message;
      try {
        message = JSON.parse(text);
      } catch {
        ws.close(4400, "the server sent a message that is not JSON");
        return;
      }
      const entry = message.id !== undefined ? active.get(message.id) : undefined;
      switch (message.type) {
        case "connection_ack":
          clearTimeout(ackTimer);
          acknowledged = true;
          retries = 0;
          status("live");
          for (const [id, { payload }] of active) send({ id, type: "subscribe", payload });
          break;
        case "ping":
          send({ type: "pong", payload: message.payload });
          break;
        case "pong":
          break;
        case "next":
          if (entry) entry.sink.next(message.payload);
          break;
        case "error":
          if (entry) {
            active.delete(message.id);
            entry.sink.error(message.payload);
            linger();
          }
          break;
        case "complete":
          if (entry) {
            active.delete(message.id);
            if (entry.sink.complete) entry.sink.complete();
            linger();
          }
          break;
        default:
          ws.close(4400, "unexpected message type " + message.type);
      }
    }

    function closed(ws, event) {
      clearTimeout(ackTimer);
      if (socket !== ws) return;
      socket = null;
      acknowledged = false;
      if (disposed) return;
      if (active.size === 0) {
        status("closed");
        return;
      }
      const fatal = FATAL_CLOSES[event.code];
      if (fatal) {
        status("refused", event.reason || fatal);
        const error = [{ message: event.reason || "the server refused the connection", extensions: { code: fatal } }];
        const sinks = [...active.values()].map((entry) => entry.sink);
        active.clear();
        for (const sink of sinks) sink.error(error);
        return;
      }
      // Full jitter, so that many pages do not all come back at the same moment.
      const ceiling = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** retries);
      const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      retries += 1;
      status("retrying", delay);
      retryTimer = setTimeout(connect, delay);
    }

    // Closes the socket a little after the last subscription ends, so that a
    // subscription started right after another reuses it.
    function linger() {
      clearTimeout(lingerTimer);
      if (active.size > 0) return;
      lingerTimer = setTimeout(() => {
        if (active.size === 0 && socket) socket.close(1000, "no subscriptions left");
      }, LINGER_MS);
    }

    function subscribe(payload, sink) {
      if (disposed) throw new Error("the client was disposed");
      const id = String(nextId++);
      active.set(id, { payload, sink });
      clearTimeout(lingerTimer);
      if (!socket) connect();
      else if (acknowledged) send({ id, type: "subscribe", payload });
      return () => {
        if (!active.delete(id)) return;
        if (acknowledged) send({ id, type: "complete" });
        linger();
      };
    }

    function dispose() {
      disposed = true;
      active.clear();
      clearTimeout(retryTimer);
      clearTimeout(lingerTimer);
      if (socket) socket.close(1000, "disposed");
    }

    return { subscribe, dispose };
  }

  global.GraphQLWs = { createClient, sameOriginUrl };
})(window);
