// The dashboard: one GraphQL request per year for both reports and both charts.
"use strict";

const QUERY = `query Dashboard($year: Int!) {
  hiresByQuarter(year: $year) { department job q1 q2 q3 q4 total }
  departmentsAboveMean(year: $year) { mean departments { id department hired } }
  quarterChart: hiresByQuarterChart(year: $year) { dataUrl }
  meanChart: departmentsAboveMeanChart(year: $year) { dataUrl }
}`;

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

async function load(year) {
  setLoading(true);
  let answer;
  try {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: QUERY, variables: { year } }),
    });
    answer = await response.json();
  } catch (error) {
    showError("the server did not answer (" + error.message + ")");
    return;
  }
  if (answer.errors && answer.errors.length) {
    const first = answer.errors[0];
    showError(first.message + (first.extensions && first.extensions.code ? " [" + first.extensions.code + "]" : ""));
    return;
  }
  const data = answer.data;
  setLoading(false);
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
  load(chosen);
}

init();
