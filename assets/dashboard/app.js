// The dashboard: one GraphQL request per year for both reports and both charts,
// made again whenever the `dataChanged` subscription says the data changed.
// The trend view (./trends.js) is the other view; the URL says which one
// shows (`?year=2021`, or `?view=trends&…` with the trend view's state), so a
// reload or a shared link opens the same view, and back and forward work.
//
// A bearer token pasted into the Token form (a static token or a JWT from the
// identity provider) is kept in this tab's session storage only (never in
// local storage, cookies or URLs) and sent with every request: in the
// `Authorization` header of GraphQL requests and CSV downloads, and in the
// WebSocket's `connection_init` payload (see ../admin/token.js). Who is
// signed in is the server's answer to the `me` query, asked on load and
// whenever the token changes.
"use strict";

const TOKEN_KEY = "hiring-analytics.dashboard-token";

const QUERY = `query Dashboard($year: Int!) {
  hiresByQuarter(year: $year) { department job q1 q2 q3 q4 total }
  departmentsAboveMean(year: $year) { mean departments { id department hired } }
  quarterChart: hiresByQuarterChart(year: $year) { dataUrl }
  meanChart: departmentsAboveMeanChart(year: $year) { dataUrl }
  reportsAsOf
}`;

const DATA_CHANGED = "subscription DashboardDataChanged { dataChanged { asOf tables version } }";

const QUARTER_COLUMNS = [["department"], ["job"], ["q1", true], ["q2", true], ["q3", true], ["q4", true], ["total", true]];
const MEAN_COLUMNS = [["id", true], ["department"], ["hired", true]];

const $ = (id) => document.getElementById(id);

// ---- The token ----

const token = BearerToken.keptAs(TOKEN_KEY);

// Which `me` answer is wanted: one for an earlier token is dropped.
let identityAsked = 0;

/** Asks the server who the token (or no token) is, and shows it. */
async function showIdentity() {
  const asked = ++identityAsked;
  const held = token.get() !== null;
  $("identity").dataset.state = "checking";
  $("identity").textContent = "";
  $("forget-token").hidden = !held;
  const answer = await token.me();
  if (asked !== identityAsked) return;
  const me = answer.data && answer.data.me;
  const error = (answer.errors || [])[0] || { message: "the server sent no data" };
  let state;
  let text;
  if (me) {
    state = me.identity === "anonymous" ? "anonymous" : "signed-in";
    text = BearerToken.signedInText(me);
  } else if (["UNAUTHENTICATED", "FORBIDDEN"].includes(codeOf(error))) {
    state = held ? "refused" : "anonymous";
    text = held ? "Token refused" : "Not signed in";
  } else {
    state = "unknown";
    text = "Could not ask who is signed in: " + describe(error);
  }
  $("identity").dataset.state = state;
  $("identity").dataset.role = me ? me.role : "";
  $("identity").title = me ? me.identity : error.message;
  $("identity").textContent = text;
}

/** Opens the token form, with `message` saying why when given. */
function askForToken(message) {
  $("token-prompt").textContent = message || "";
  $("token-prompt").hidden = !message;
  $("token-form").hidden = false;
  $("token").focus();
}

function closeTokenForm() {
  $("token-form").hidden = true;
  $("token-prompt").hidden = true;
  $("token").value = "";
}

function useToken(pasted) {
  token.set(pasted);
  closeTokenForm();
  showIdentity();
  start();
}

function forgetToken() {
  token.forget();
  showIdentity();
  start();
}

/** Asks for a token after a 401, saying why. */
function unauthenticated(error) {
  askForToken(token.get()
    ? "The server refused your token: " + error.message + ". Paste another one, or forget it."
    : "This server needs a token to show the reports. Paste one here: a token you were given, or a JWT from your identity provider.");
}

// ---- Showing things ----

const codeOf = (error) => (error && error.extensions && error.extensions.code) || null;
const describe = (error) => error.message + (codeOf(error) ? " [" + codeOf(error) + "]" : "");

function paragraph(className, text) {
  return Object.assign(document.createElement("p"), { className, textContent: text });
}

function cell(text, number) {
  const td = document.createElement("td");
  td.textContent = text;
  if (number) td.className = "number";
  return td;
}

function fillTable(table, rows, columns, empty, emptyClass) {
  const body = table.tBodies[0];
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(empty);
    td.colSpan = columns.length;
    td.className = emptyClass || "loading";
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const [key, number] of columns) tr.append(cell(String(row[key]), number));
    body.append(tr);
  }
}

function showChart(container, dataUrl, alt) {
  const img = document.createElement("img");
  img.src = dataUrl;
  img.alt = alt;
  container.replaceChildren(img);
}

function setLoading(loading) {
  for (const id of ["quarter-chart", "mean-chart"]) {
    if (loading) $(id).replaceChildren(paragraph("loading", "Loading…"));
  }
  setStatusLoading(loading);
}

function setStatusLoading(loading) {
  $("status").className = loading ? "loading" : "";
  $("status").textContent = loading ? "Loading…" : "";
}

function showStatusError(message) {
  $("status").className = "error";
  $("status").textContent = message;
}

/** Shows `message` in place of one view: a chart, a table, or the mean line. */
function viewError(view, message) {
  const text = "Could not load: " + message;
  switch (view) {
    case "quarterChart": $("quarter-chart").replaceChildren(paragraph("error", text)); break;
    case "meanChart": $("mean-chart").replaceChildren(paragraph("error", text)); break;
    case "hiresByQuarter": fillTable($("quarter-table"), [], QUARTER_COLUMNS, text, "error"); break;
    case "departmentsAboveMean":
      $("mean").textContent = "";
      fillTable($("mean-table"), [], MEAN_COLUMNS, text, "error");
      break;
  }
}

function showError(message) {
  showStatusError(message);
  for (const view of ["quarterChart", "meanChart", "hiresByQuarter", "departmentsAboveMean"]) viewError(view, message);
  showAsOf(undefined);
}

function showAsOf(asOf) {
  const element = $("as-of");
  element.dataset.asOf = asOf || "";
  element.title = asOf || "";
  element.textContent = asOf ? "Data as of " + new Date(asOf).toLocaleString()
    : asOf === null ? "No hires stored yet" : "";
}

// ---- Loading ----

// Which answer is wanted: a slower answer for an earlier request is dropped.
let requested = 0;
// A refresh in flight, and whether another one was asked for meanwhile.
let refreshing = null;
let refreshAgain = false;

// Loads `year`; a quiet load keeps what is shown until the answer is in.
async function load(year, quiet) {
  const request = ++requested;
  if (!quiet) setLoading(true);
  // Never throws: no answer or a non-JSON one comes as an error answer.
  const answer = await token.post(QUERY, { year });
  if (request !== requested) return;
  const errors = answer.errors || [];
  const refused = errors.find((error) => codeOf(error) === "UNAUTHENTICATED");
  if (refused) {
    showError(describe(refused));
    unauthenticated(refused);
    return;
  }
  const data = answer.data;
  if (!data) {
    showError(describe(errors[0] || { message: "the server sent no data" }));
    return;
  }
  // A field the token may not see (FORBIDDEN) fails alone: the others still show.
  setLoading(false);
  const failed = (view) => errors.find((error) => error.path && error.path[0] === view);
  const shown = (view) => {
    const error = failed(view) || (data[view] ? null : { message: "no answer" });
    if (error) viewError(view, describe(error));
    return !error;
  };
  const general = errors.find((error) => !error.path);
  if (general) showStatusError(describe(general));
  else if (errors.length) showStatusError("Some parts could not be loaded: " + describe(errors[0]));
  if (failed("reportsAsOf")) showAsOf(undefined);
  else showAsOf(data.reportsAsOf);
  if (shown("quarterChart")) showChart($("quarter-chart"), data.quarterChart.dataUrl, "Hires per department by quarter, " + year);
  if (shown("meanChart")) showChart($("mean-chart"), data.meanChart.dataUrl, "Departments above the mean, " + year);
  if (shown("hiresByQuarter")) fillTable($("quarter-table"), data.hiresByQuarter, QUARTER_COLUMNS, "No hires in " + year + ".");
  if (shown("departmentsAboveMean")) {
    const report = data.departmentsAboveMean;
    $("mean").textContent = "Mean hires per department in " + year + ": " + report.mean.toFixed(1);
    fillTable($("mean-table"), report.departments, MEAN_COLUMNS, "No department above the mean in " + year + ".");
  }
}

// Loads the view shown: the chosen year, or the trends; a quiet load keeps what is shown meanwhile.
function loadShownView(quiet) {
  if (shownView() === "trends") return trends.load(quiet);
  return load(Number($("year").value), quiet);
}

// Loads the view shown again, quietly; changes during a refresh cause one more.
function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = loadShownView(true).finally(() => {
    refreshing = null;
    if (refreshAgain) {
      refreshAgain = false;
      refresh();
    }
  });
}

// ---- CSV downloads ----

// The CSV exports need the token too, so they are fetched with it and saved
// from memory rather than opened as plain links.
function downloadCsv(report) {
  const year = Number($("year").value);
  return downloadFile("/reports/" + report + ".csv?year=" + year, report + "-" + year + ".csv");
}

// Fetches `url` with the token and saves it as `name`, or says why not.
async function downloadFile(url, name) {
  let response;
  try {
    response = await fetch(url, { headers: token.headers() });
  } catch (error) {
    showStatusError("Could not download " + name + ": the server did not answer (" + error.message + ")");
    return;
  }
  if (!response.ok) {
    let error = { message: "HTTP " + response.status };
    try {
      const answer = await response.json();
      if (answer.errors && answer.errors[0]) error = answer.errors[0];
    } catch {
      // Not a JSON error: the status says enough.
    }
    showStatusError("Could not download " + name + ": " + describe(error));
    if (response.status === 401) unauthenticated(error);
    return;
  }
  const saved = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: saved, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(saved), 60000);
}

// ---- Live updates ----

// The subscription client of the current token, and which start it belongs to.
let live = null;
let generation = 0;

// The first load waits for the subscription's first event (the current
// state), so no change can fall between what the load reads and what the
// events report. After that (and after a reconnect) a new version means new
// data. Without live updates (refused, unreachable) it loads anyway.
function followChanges(firstLoad, current) {
  let version = null;
  const client = GraphQLWs.createClient({
    url: GraphQLWs.sameOriginUrl("/graphql"),
    connectionParams: token.connectionParams,
    onStatus: (status) => {
      if (!current()) return;
      $("live").dataset.status = status;
      $("live").textContent = { live: "· live", connecting: "", retrying: "· reconnecting…", refused: "· live updates refused" }[status] || "";
      if (status === "retrying" || status === "refused") firstLoad();
    },
  });
  client.subscribe({ query: DATA_CHANGED }, {
    next: (result) => {
      const change = current() && result.data && result.data.dataChanged;
      if (!change) return;
      const changed = version !== null && change.version !== version;
      version = change.version;
      if (changed) refresh();
      else firstLoad();
    },
    error: (errors) => {
      if (!current()) return;
      const first = (errors && errors[0]) || {};
      $("live").dataset.status = "error";
      $("live").textContent = ["UNAUTHENTICATED", "FORBIDDEN"].includes(codeOf(first))
        ? "· live updates refused for this token"
        : "· live updates stopped: " + (first.message || "error");
      firstLoad();
    },
  });
  return client;
}

// Connects for live updates with the current token (dropping the previous
// connection) and loads the chosen year once.
function start() {
  const mine = ++generation;
  const current = () => mine === generation;
  if (live) live.dispose();
  // An answer still coming for the previous token is not shown.
  requested += 1;
  trends.cancel();
  setLoading(true);
  let loaded = false;
  const firstLoad = () => {
    if (loaded || !current()) return;
    loaded = true;
    loadShownView(false);
  };
  live = followChanges(firstLoad, current);
  // Live updates may be slow to come (a proxy without WebSockets): show the data anyway.
  setTimeout(firstLoad, 3000);
}

// ---- The views and the URL ----

const trends = TrendView.create({
  token,
  navigate: (search, push) => writeUrl(search, push),
  status: setStatusLoading,
  statusError: showStatusError,
  showAsOf,
  unauthenticated,
  download: downloadFile,
});

// The view on screen, "year" or "trends".
const shownView = () => ($("trends-view").hidden ? "year" : "trends");
const viewInUrl = () => (new URLSearchParams(location.search).get("view") === "trends" ? "trends" : "year");

function writeUrl(search, push) {
  if (search === location.search) return;
  if (push) history.pushState(null, "", search);
  else history.replaceState(null, "", search);
  updateViewLinks();
}

// The view links lead to each view as it was left, so they can be opened elsewhere too.
function updateViewLinks() {
  $("view-year").href = "?year=" + $("year").value;
  $("view-trends").href = trends.search();
}

function showView(view) {
  // An answer still coming for the view left is not shown.
  if (view !== shownView()) {
    if (view === "trends") requested += 1;
    else trends.cancel();
  }
  $("year-view").hidden = view !== "year";
  $("trends-view").hidden = view !== "trends";
  $("year-picker").hidden = view !== "year";
  for (const link of document.querySelectorAll("nav.views a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = "hiring-analytics · " + (view === "trends" ? "trends" : "dashboard");
}

// Shows what the URL says (after a view link, back or forward) and loads
// what that needs: another view is loaded again, quietly when it shows data.
function followUrl() {
  const params = new URLSearchParams(location.search);
  const view = viewInUrl();
  const switched = view !== shownView();
  showView(view);
  if (view === "trends") {
    const needed = trends.follow(params);
    if (needed || switched) trends.load(!needed && trends.shown);
  } else {
    const year = Number(params.get("year")) || Number($("year").value);
    const changed = year !== Number($("year").value);
    chooseYear(year);
    if (changed || switched) load(year, !changed);
  }
  updateViewLinks();
}

function chooseYear(year) {
  const select = $("year");
  if (![...select.options].some((o) => Number(o.value) === year)) select.append(new Option(String(year), String(year)));
  select.value = String(year);
}

function switchView(event) {
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  writeUrl(new URL(event.currentTarget.href).search, true);
  followUrl();
}

function init() {
  const select = $("year");
  const params = new URLSearchParams(location.search);
  const chosen = Number(params.get("year")) || 2021;
  const thisYear = new Date().getUTCFullYear();
  for (let year = thisYear; year >= 2015; year--) {
    select.append(new Option(String(year), String(year), false, year === chosen));
  }
  if (![...select.options].some((o) => o.selected)) select.append(new Option(String(chosen), String(chosen), true, true));
  select.addEventListener("change", () => {
    const year = Number(select.value);
    history.replaceState(null, "", "?year=" + year);
    updateViewLinks();
    load(year);
  });
  for (const link of document.querySelectorAll("nav.views a")) link.addEventListener("click", switchView);
  window.addEventListener("popstate", followUrl);
  showView(viewInUrl());
  if (viewInUrl() === "trends") trends.follow(params);
  updateViewLinks();
  $("token-button").addEventListener("click", () => {
    if ($("token-form").hidden) askForToken();
    else closeTokenForm();
  });
  $("token-close").addEventListener("click", closeTokenForm);
  $("forget-token").addEventListener("click", forgetToken);
  BearerToken.whenPasted($("token-form"), $("token"), useToken);
  for (const button of document.querySelectorAll("button.csv")) {
    button.addEventListener("click", () => downloadCsv(button.dataset.report));
  }
  showIdentity();
  start();
}

init();
