// The dashboard: one GraphQL request per year for both reports and both charts,
// made again whenever the `dataChanged` subscription says the data changed.
"use strict";

const QUERY = `query Dashboard($year: Int!) {
  hiresByQuarter(year: $year) { department job q1 q2 q3 q4 total }
  departmentsAboveMean(year: $year) { mean departments { id department hired } }
  quarterChart: hiresByQuarterChart(year: $year) { dataUrl }
  meanChart: departmentsAboveMeanChart(year: $year) { dataUrl }
  reportsAsOf
}`;

const DATA_CHANGED = "subscription DashboardDataChanged { dataChanged { asOf tables version } }";

const $ = (id) => document.getElementById(id);

function cell(text, number) {
  const td = document.createElement("td");
  td.textContent = text;
  if (number) td.className = "number";
  return td;
}

function fillTable(table, rows, columns, empty) {
  const body = table.tBodies[0];
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(empty);
    td.colSpan = columns.length;
    td.className = "loading";
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
    if (loading) $(id).replaceChildren(Object.assign(document.createElement("p"), { className: "loading", textContent: "Loading…" }));
  }
  $("status").className = loading ? "loading" : "";
  $("status").textContent = loading ? "Loading…" : "";
}

function showError(message) {
  $("status").className = "error";
  $("status").textContent = message;
  for (const id of ["quarter-chart", "mean-chart"]) {
    $(id).replaceChildren(Object.assign(document.createElement("p"), { className: "error", textContent: "Could not load: " + message }));
  }
  fillTable($("quarter-table"), [], [[0], [1], [2], [3], [4], [5], [6]], "Could not load.");
  fillTable($("mean-table"), [], [[0], [1], [2]], "Could not load.");
}

// Which answer is wanted: a slower answer for an earlier request is dropped.
let requested = 0;
// A refresh in flight, and whether another one was asked for meanwhile.
let refreshing = null;
let refreshAgain = false;

function showAsOf(asOf) {
  const element = $("as-of");
  element.dataset.asOf = asOf || "";
  element.title = asOf || "";
  element.textContent = asOf ? "Data as of " + new Date(asOf).toLocaleString() : "No hires stored yet";
}

// Loads `year`; a quiet load keeps what is shown until the answer is in.
async function load(year, quiet) {
  const request = ++requested;
  if (!quiet) setLoading(true);
  let answer;
  try {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: QUERY, variables: { year } }),
    });
    answer = await response.json();
  } catch (error) {
    if (request === requested) showError("the server did not answer (" + error.message + ")");
    return;
  }
  if (request !== requested) return;
  if (answer.errors && answer.errors.length) {
    const first = answer.errors[0];
    showError(first.message + (first.extensions && first.extensions.code ? " [" + first.extensions.code + "]" : ""));
    return;
  }
  const data = answer.data;
  setLoading(false);
  showAsOf(data.reportsAsOf);
  showChart($("quarter-chart"), data.quarterChart.dataUrl, "Hires per department by quarter, " + year);
  showChart($("mean-chart"), data.meanChart.dataUrl, "Departments above the mean, " + year);
  fillTable($("quarter-table"), data.hiresByQuarter,
    [["department"], ["job"], ["q1", true], ["q2", true], ["q3", true], ["q4", true], ["total", true]],
    "No hires in " + year + ".");
  const report = data.departmentsAboveMean;
  $("mean").textContent = "Mean hires per department in " + year + ": " + report.mean.toFixed(1);
  fillTable($("mean-table"), report.departments, [["id", true], ["department"], ["hired", true]],
    "No department above the mean in " + year + ".");
}

// Loads the chosen year again, quietly; changes during a refresh cause one more.
function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = load(Number($("year").value), true).finally(() => {
    refreshing = null;
    if (refreshAgain) {
      refreshAgain = false;
      refresh();
    }
  });
}

// The first load waits for the subscription's first event (the current
// state), so no change can fall between what the load reads and what the
// events report. After that (and after a reconnect) a new version means new
// data. Without live updates (refused, unreachable) it loads anyway.
function followChanges(firstLoad) {
  let version = null;
  const client = GraphQLWs.createClient({
    url: GraphQLWs.sameOriginUrl("/graphql"),
    onStatus: (status) => {
      $("live").dataset.status = status;
      $("live").textContent = { live: "· live", connecting: "", retrying: "· reconnecting…", refused: "· live updates refused" }[status] || "";
      if (status === "retrying" || status === "refused") firstLoad();
    },
  });
  client.subscribe({ query: DATA_CHANGED }, {
    next: (result) => {
      const change = result.data && result.data.dataChanged;
      if (!change) return;
      const changed = version !== null && change.version !== version;
      version = change.version;
      if (changed) refresh();
      else firstLoad();
    },
    error: (errors) => {
      $("live").dataset.status = "error";
      $("live").textContent = "· live updates stopped: " + ((errors && errors[0] && errors[0].message) || "error");
      firstLoad();
    },
  });
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
    load(year);
  });
  let loaded = false;
  const firstLoad = () => {
    if (loaded) return;
    loaded = true;
    load(Number(select.value));
  };
  followChanges(firstLoad);
  // Live updates may be slow to come (a proxy without WebSockets): show the data anyway.
  setTimeout(firstLoad, 3000);
}

init();
