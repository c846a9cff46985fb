// The bearer token a page was given, shared by the admin console and the
// dashboard; plain JavaScript, no build step.
//
//   const token = BearerToken.keptAs("hiring-analytics.some-page-token");
//   BearerToken.whenPasted(form, input, (pasted) => token.set(pasted));  // kept in this tab's session storage only
//   const answer = await token.post(query, variables);  // POST /graphql with the token
//   const answer = await token.me();        // who the server takes the token for
//   element.textContent = BearerToken.signedInText(answer.data.me);
//
// The token is kept in session storage only (never in local storage, cookies
// or URLs), sent in the `Authorization` header of requests and in the
// WebSocket's `connection_init` payload. Who it belongs to is the server's
// word (the `me` query): the pages never decode a token themselves.
"use strict";

(function (global) {
  const ME_QUERY = "query Me { me { identity display role } }";

  /** A pasted token without surrounding space or a pasted `Bearer ` prefix. */
  function clean(text) {
    return text.trim().replace(/^bearer\s+/i, "").trim();
  }

  /** Calls `use` with the token pasted into `input` whenever `form` is submitted, and empties the field. */
  function whenPasted(form, input, use) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const pasted = clean(input.value);
      input.value = "";
      if (pasted) use(pasted);
    });
  }

  /** "Signed in as <display or identity> · <role>", or "Not signed in · <role>" for an anonymous caller. */
  function signedInText(me) {
    if (me.identity === "anonymous") return "Not signed in · " + me.role;
    return "Signed in as " + (me.display || me.identity) + " · " + me.role;
  }

  /** The token kept under `key` in this tab's session storage, and requests made with it. */
  function keptAs(key) {
    const get = () => sessionStorage.getItem(key);

    /** The `Authorization` header for the token, if there is one. */
    const headers = () => {
      const token = get();
      return token ? { Authorization: "Bearer " + token } : {};
    };

    /** POSTs `query` to /graphql with the token: the answer's JSON, or an error answer made up when there is none. */
    async function post(query, variables) {
      let response;
      try {
        response = await fetch("/graphql", {
          method: "POST",
          headers: { "Content-Type": "application/json", ...headers() },
          body: JSON.stringify({ query, variables }),
        });
      } catch (error) {
        return { errors: [{ message: "the server did not answer (" + error.message + ")" }] };
      }
      const text = await response.text();
      try {
        return JSON.parse(text);
      } catch {
        return { errors: [{ message: "the server answered HTTP " + response.status + " without a GraphQL answer" }] };
      }
    }

    return {
      get,
      set: (token) => sessionStorage.setItem(key, token),
      forget: () => sessionStorage.removeItem(key),
      headers,
      /** The WebSocket's `connection_init` payload; read at every (re)connection, so it is always the token in use. */
      connectionParams: () => {
        const token = get();
        return token ? { authorization: "Bearer " + token } : undefined;
      },
      post,
      /** The answer to `{ me { identity display role } }` for the token (or for no token). */
      me: () => post(ME_QUERY),
    };
  }

  global.BearerToken = { whenPasted, keptAs, signedInText };
})(window);
