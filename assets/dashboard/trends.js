// The dashboard's trend view: hires over time per series (hiresOverTime) as a
// line chart with a toggle per series, the comparison of one period with the
// one before and the same one a year earlier (hiresComparison), and the top
// departments (topDepartments). A department's link drills into its jobs
// (hiresOverTime by job in that department, and topJobs).
//
// Everything the view shows follows from its state, which lives in the URL:
//   ?view=trends&from=2021-01&to=2022-12&granularity=MONTH&by=DEPARTMENT&hide=3,7&department=2&at=2022-10
// `from` and `to` are months, both included (the request's `to` is the start
// of the month after), widened to whole periods of the granularity; `hide`
// lists the series hidden in the chart (hiding one asks the server nothing);
// `department` is the department drilled into; `at` the compared period when
// one was chosen (otherwise the last complete period in the range).
//
//   const view = TrendView.create(deps);  // see `create` for what deps holds
//   view.follow(new URLSearchParams(location.search));  // true when that state needs a request
//   await view.load(quiet);                              // asks the server and shows the answer
//   view.search();                                       // "?view=trends&…" of the state shown
"use strict";

(function (global) {
  const PERIOD_MONTHS = { MONTH: 1, QUARTER: 3, YEAR: 12 };
  const PERIOD_NAMES = { MONTH: "month", QUARTER: "quarter", YEAR: "year" };
  const BREAKDOWNS = ["TOTAL", "DEPARTMENT", "JOB", "DEPARTMENT_AND_JOB"];
  const BREAKDOWN_NAMES = { TOTAL: "", DEPARTMENT: " by department", JOB: " by job", DEPARTMENT_AND_JOB: " by department and job" };
  const DEFAULTS = { from: "2021-01", to: "2022-12", granularity: "MONTH", by: "DEPARTMENT" };
  const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const TOP = 10;
  // More periods than the server allows (120) are never listed.
  const MAX_PERIODS = 1200;

  const SERIES_FIELDS = "departmentId department jobId job total points { start hires }";
  const COMPARISON_FIELDS = "departmentId department jobId job start hires previous yearEarlier " +
    "changeFromPrevious percentChangeFromPrevious changeFromYearEarlier percentChangeFromYearEarlier";

  const ALL_DEPARTMENTS_QUERY = `query Trends($from: DateTime!, $to: DateTime!, $granularity: Granularity!, $by: Breakdown!, $at: DateTime!) {
  series: hiresOverTime(from: $from, to: $to, granularity: $granularity, by: $by) { ${SERIES_FIELDS} }
  comparison: hiresComparison(period: $granularity, at: $at, by: $by) { ${COMPARISON_FIELDS} }
  top: topDepartments(from: $from, to: $to, first: ${TOP}) { rank departmentId department hires share }
  reportsAsOf
}`;

  const ONE_DEPARTMENT_QUERY = `query DepartmentTrends($from: DateTime!, $to: DateTime!, $granularity: Granularity!, $at: DateTime!, $departmentId: Int!) {
  drilled: department(id: $departmentId) { id department }
  series: hiresOverTime(from: $from, to: $to, granularity: $granularity, by: JOB, departmentIds: [$departmentId]) { ${SERIES_FIELDS} }
  comparison: hiresComparison(period: $granularity, at: $at, by: JOB, departmentIds: [$departmentId]) { ${COMPARISON_FIELDS} }
  top: topJobs(departmentId: $departmentId, from: $from, to: $to, first: ${TOP}) { rank jobId job hires share }
  reportsAsOf
}`;

  // ---- Months and periods (a month is its index: year * 12 + month - 1) ----

  // Years 1 to 9999, and never December 9999, whose end the server cannot name.
  const isMonth = (text) => /^\d{4}-(0[1-9]|1[0-2])$/.test(text || "") && text >= "0001-01" && text < "9999-12";
  const monthIndex = (text) => Number(text.slice(0, 4)) * 12 + Number(text.slice(5, 7)) - 1;
  const monthText = (index) =>
    String(Math.floor(index / 12)).padStart(4, "0") + "-" + String((index % 12) + 1).padStart(2, "0");
  const instantOf = (index) => monthText(index) + "-01T00:00:00Z";
  const periodStart = (index, granularity) => index - (index % PERIOD_MONTHS[granularity]);

  function thisMonth() {
    const now = new Date();
    return now.getUTCFullYear() * 12 + now.getUTCMonth();
  }

  /** "Mar 2021", "Q1 2021" or "2021". */
  function periodLabel(index, granularity) {
    const year = Math.floor(index / 12);
    if (granularity === "YEAR") return String(year);
    if (granularity === "QUARTER") return "Q" + (Math.floor((index % 12) / 3) + 1) + " " + year;
    return MONTH_NAMES[index % 12] + " " + year;
  }

  /** The x-axis label of a period: its name, and the year below it where a year starts. */
  function axisLabel(index, granularity, first) {
    const year = String(Math.floor(index / 12));
    if (granularity === "YEAR") return [year];
    const name = granularity === "QUARTER" ? "Q" + (Math.floor((index % 12) / 3) + 1) : MONTH_NAMES[index % 12];
    return first || index % 12 === 0 ? [name, year] : [name];
  }

  /** The first month of every period in the range. */
  function periodStarts(state) {
    const size = PERIOD_MONTHS[state.granularity];
    const starts = [];
    for (let at = monthIndex(state.from); at <= monthIndex(state.to) && starts.length < MAX_PERIODS; at += size) starts.push(at);
    return starts;
  }

  /** The compared period: the chosen one, else the last complete one in the range, else the range's last. */
  function comparedPeriod(state) {
    if (state.at) return monthIndex(state.at);
    const size = PERIOD_MONTHS[state.granularity];
    const starts = periodStarts(state);
    const complete = starts.filter((start) => start + size <= thisMonth());
    return complete.length ? complete[complete.length - 1] : starts.length ? starts[starts.length - 1] : monthIndex(state.from);
  }

  // ---- The state in the URL ----

  /** The range widened to whole periods, and `at` moved to its period's start (dropped outside the range). */
  function snapped(state) {
    const size = PERIOD_MONTHS[state.granularity];
    const from = periodStart(monthIndex(state.from), state.granularity);
    const to = periodStart(monthIndex(state.to), state.granularity) + size - 1;
    const at = state.at && periodStart(monthIndex(state.at), state.granularity);
    const inRange = at !== null && at !== "" && at >= from && at <= to;
    return { ...state, from: monthText(from), to: monthText(to), at: inRange ? monthText(at) : null };
  }

  /** The state a URL's query gives, invalid or missing values replaced by the defaults. */
  function stateFrom(params) {
    const pick = (name, valid) => (valid(params.get(name)) ? params.get(name) : DEFAULTS[name]);
    const department = Number(params.get("department"));
    return snapped({
      from: pick("from", isMonth),
      to: pick("to", isMonth),
      granularity: pick("granularity", (g) => Object.hasOwn(PERIOD_MONTHS, g || "")),
      by: pick("by", (b) => BREAKDOWNS.includes(b)),
      hide: new Set((params.get("hide") || "").split(",").filter(Boolean)),
      department: Number.isInteger(department) && department > 0 ? department : null,
      at: isMonth(params.get("at")) ? params.get("at") : null,
    });
  }

  /** The URL query of `state`. */
  function searchOf(state) {
    const params = new URLSearchParams({ view: "trends", from: state.from, to: state.to, granularity: state.granularity, by: state.by });
    if (state.hide.size) params.set("hide", [...state.hide].join(","));
    if (state.department) params.set("department", String(state.department));
    if (state.at) params.set("at", state.at);
    return "?" + params.toString().replaceAll("%2C", ",");
  }

  /** What the server is asked for `state`: equal keys, equal requests. */
  const requestKey = (state) => JSON.stringify(variablesOf(state));

  function variablesOf(state) {
    const variables = {
      from: instantOf(monthIndex(state.from)),
      to: instantOf(monthIndex(state.to) + 1),
      granularity: state.granularity,
      at: instantOf(comparedPeriod(state)),
    };
    if (state.department) variables.departmentId = state.department;
    else variables.by = state.by;
    return variables;
  }

  // ---- Series ----

  /** A series' key in `hide`: its department id, job id, both (`department-job`), or `all`. */
  function seriesKey(series) {
    if (series.departmentId != null && series.jobId != null) return series.departmentId + "-" + series.jobId;
    if (series.departmentId != null) return String(series.departmentId);
    if (series.jobId != null) return String(series.jobId);
    return "all";
  }

  const seriesName = (series) => [series.department, series.job].filter(Boolean).join(" · ") || "All hires";

  // ---- Building the page ----

  const $ = (id) => document.getElementById(id);

  /** An element with properties and children (elements or text). */
  function element(tag, properties, children) {
    const made = Object.assign(document.createElement(tag), properties || {});
    for (const child of children || []) made.append(child);
    return made;
  }

  function cell(content, className, tag) {
    return element(tag || "td", { className: className || "" }, [content]);
  }

  /** A table body of one row saying `text` across `columns` columns. */
  function messageRow(table, text, className, columns) {
    const td = cell(text, className);
    td.colSpan = columns;
    table.tBodies[0].replaceChildren(element("tr", {}, [td]));
  }

  /** "▲ +5", "▼ −3" or "0"; the arrow is decoration, the sign says it. */
  function changeCell(change) {
    const arrow = change > 0 ? "▲ " : change < 0 ? "▼ " : "";
    const td = cell("", "number " + (change > 0 ? "up" : change < 0 ? "down" : "flat"));
    if (arrow) td.append(element("span", { textContent: arrow, ariaHidden: "true" }));
    td.append((change > 0 ? "+" : change < 0 ? "−" : "") + Math.abs(change));
    return td;
  }

  /** "+25.0%", "−12.5%", or "—" when there is no base to compare with. */
  function percentCell(percent) {
    if (percent === null || percent === undefined) {
      return element("td", { className: "number flat", textContent: "—", title: "No hires to compare with" });
    }
    const sign = percent > 0 ? "+" : percent < 0 ? "−" : "";
    return cell(sign + Math.abs(percent).toFixed(1) + "%", "number " + (percent > 0 ? "up" : percent < 0 ? "down" : "flat"));
  }

  function shareCell(share) {
    const bar = element("span", { className: "bar", ariaHidden: "true" });
    bar.style.width = Math.round(share * 100) + "%";
    return element("td", { className: "share" }, [element("span", { className: "bar-track" }, [bar]), (share * 100).toFixed(1) + "%"]);
  }

  /**
   * The trend view in the page's #trends-view. `deps` holds what it shares
   * with the rest of the dashboard: `token` (requests with the bearer
   * token), `navigate(search, push)` (writes the URL), `status(loading)`,
   * `statusError(message)`, `showAsOf(asOf)`, `unauthenticated(error)` and
   * `download(url, fileName)`.
   */
  function create(deps) {
    let state = stateFrom(new URLSearchParams());
    // The answer shown, the request it answered, and which request is wanted.
    let shown = null;
    let shownKey = null;
    let requested = 0;
    // Names of departments seen, for the breadcrumb before the answer is in.
    const departmentNames = new Map();

    const drilled = () => state.department !== null;
    const codeOf = (error) => (error && error.extensions && error.extensions.code) || null;
    const describe = (error) => error.message + (codeOf(error) ? " [" + codeOf(error) + "]" : "");

    /** A link drilling into department `id`'s jobs, keeping the range. */
    function departmentLink(id, name) {
      departmentNames.set(id, name);
      const search = searchOf({ ...state, department: id, hide: new Set() });
      return element("a", { href: search, textContent: name, title: "The jobs of " + name }, []);
    }

    // ---- Controls ----

    function fillControls() {
      $("trend-from").value = state.from;
      $("trend-to").value = state.to;
      $("trend-granularity").value = state.granularity;
      $("trend-by").value = drilled() ? "JOB" : state.by;
      $("trend-by").disabled = drilled();
      $("trend-by").title = drilled() ? "A department's trend is split by job" : "";
      fillPeriodPicker();
      showBreadcrumb();
      showTitles();
    }

    function fillPeriodPicker() {
      const compared = comparedPeriod(state);
      const options = periodStarts(state).map((start) => new Option(periodLabel(start, state.granularity), monthText(start), false, start === compared));
      $("comparison-period").replaceChildren(...options);
    }

    function showBreadcrumb() {
      $("breadcrumb").hidden = !drilled();
      $("crumb-all").href = searchOf({ ...state, department: null, hide: new Set() });
      $("crumb-department").textContent = drilled() ? departmentNames.get(state.department) || "Department " + state.department : "";
    }

    function showTitles() {
      const per = PERIOD_NAMES[state.granularity];
      const where = drilled() ? " by job in " + (departmentNames.get(state.department) || "department " + state.department) : BREAKDOWN_NAMES[state.by];
      $("trend-title").textContent = "Hires per " + per + where;
      $("top-title").textContent = drilled() ? "Top jobs" : "Top departments";
      $("top-name").textContent = drilled() ? "Job" : "Department";
    }

    /** Reads the controls into the state: the range widened to whole periods, saying so. */
    function controlsChanged() {
      const from = isMonth($("trend-from").value) ? $("trend-from").value : state.from;
      const to = isMonth($("trend-to").value) ? $("trend-to").value : state.to;
      const granularity = $("trend-granularity").value;
      const by = drilled() ? state.by : $("trend-by").value;
      const hide = by === state.by ? state.hide : new Set();
      const next = snapped({ ...state, from, to, granularity, by, hide, at: state.at });
      const widened = next.from !== from || next.to !== to;
      $("trend-note").textContent = widened
        ? "The range is widened to whole " + PERIOD_NAMES[granularity] + "s: " +
          periodLabel(monthIndex(next.from), granularity) + " to " + periodLabel(monthIndex(next.to), granularity) + "."
        : "";
      change(next, true);
    }

    // ---- Changing the state ----

    /** Shows `next`, writes it to the URL, and asks the server only when the request changed. */
    function change(next, push) {
      state = next;
      deps.navigate(searchOf(state), push);
      fillControls();
      if (requestKey(state) !== shownKey) return load(false);
      showSeries();
      return Promise.resolve();
    }

    function toggleSeries(key, visible) {
      const hide = new Set(state.hide);
      if (visible) hide.delete(key);
      else hide.add(key);
      state = { ...state, hide };
      deps.navigate(searchOf(state), false);
      drawChart();
    }

    function showAll(visible) {
      const keys = shown && shown.data.series ? shown.data.series.map(seriesKey) : [];
      state = { ...state, hide: new Set(visible ? [] : keys) };
      deps.navigate(searchOf(state), false);
      showSeries();
    }

    // ---- Loading ----

    function showLoading() {
      deps.status(true);
      $("trend-chart").replaceChildren(element("p", { className: "loading", textContent: "Loading…" }));
      $("series-list").replaceChildren();
      messageRow($("comparison-table"), "Loading…", "loading", 1);
      messageRow($("top-table"), "Loading…", "loading", 4);
    }

    /** Asks the server for the state's reports and shows them; a quiet load keeps what is shown meanwhile. */
    async function load(quiet) {
      const request = ++requested;
      const asked = state;
      if (!quiet) showLoading();
      const query = asked.department ? ONE_DEPARTMENT_QUERY : ALL_DEPARTMENTS_QUERY;
      const answer = await deps.token.post(query, variablesOf(asked));
      if (request !== requested) return;
      shown = { state: asked, data: answer.data || {}, errors: answer.errors || [] };
      shownKey = requestKey(asked);
      showAnswer(answer);
    }

    function showAnswer(answer) {
      const errors = answer.errors || [];
      const refused = errors.find((error) => codeOf(error) === "UNAUTHENTICATED");
      const missing = !answer.data && (errors[0] || { message: "the server sent no data" });
      if (refused || missing) {
        showFailure(describe(refused || missing));
        if (refused) deps.unauthenticated(refused);
        return;
      }
      deps.status(false);
      const general = errors.find((error) => !error.path);
      if (general) deps.statusError(describe(general));
      else if (errors.length) deps.statusError("Some parts could not be loaded: " + describe(errors[0]));
      const asOfFailed = errors.some((error) => error.path && error.path[0] === "reportsAsOf");
      deps.showAsOf(asOfFailed ? undefined : answer.data.reportsAsOf);
      if (answer.data.drilled) departmentNames.set(state.department, answer.data.drilled.department);
      showRefusedRange();
      fillControls();
      showSeries();
      showComparison();
      showTop();
    }

    /** A field's error, or a made-up one when the field is missing. */
    function problemWith(name) {
      const error = shown.errors.find((e) => e.path && e.path[0] === name);
      if (error) return error;
      return shown.data[name] === undefined || shown.data[name] === null ? { message: "no answer" } : null;
    }

    function showFailure(message) {
      deps.statusError(message);
      deps.showAsOf(undefined);
      const text = "Could not load: " + message;
      $("trend-chart").replaceChildren(element("p", { className: "error", textContent: text }));
      $("series-list").replaceChildren();
      messageRow($("comparison-table"), text, "error", 1);
      messageRow($("top-table"), text, "error", 4);
    }

    /** The server's word when it refuses the range (BAD_USER_INPUT), shown above the chart. */
    function showRefusedRange() {
      const refusal = shown.errors.find((e) => codeOf(e) === "BAD_USER_INPUT");
      $("trend-alert").hidden = !refusal;
      $("trend-alert").className = refusal ? "error" : "";
      $("trend-alert").textContent = refusal ? "The server refused these settings: " + refusal.message : "";
    }

    // ---- The chart and its series ----

    function showSeries() {
      const problem = shown && problemWith("series");
      if (!shown || problem) {
        if (problem) $("trend-chart").replaceChildren(element("p", { className: "error", textContent: "Could not load: " + describe(problem) }));
        $("series-list").replaceChildren();
        $("trend-data").replaceChildren();
        return;
      }
      fillToggles(shown.data.series);
      drawChart();
      fillDataTable(shown.data.series);
    }

    function fillToggles(list) {
      const items = list.map((series, index) => {
        const key = seriesKey(series);
        const input = element("input", { type: "checkbox", checked: !state.hide.has(key) });
        input.dataset.key = key;
        const label = element("label", {}, [input, TrendChart.swatch(TrendChart.styleOf(index)),
          element("span", { className: "series-name", textContent: seriesName(series) }),
          element("span", { className: "series-total", textContent: String(series.total) })]);
        const item = element("li", {}, [label]);
        if (series.departmentId != null && !drilled()) {
          const link = departmentLink(series.departmentId, series.department);
          link.textContent = "Jobs";
          link.className = "drill";
          link.setAttribute("aria-label", "Jobs in " + series.department);
          item.append(link);
        }
        return item;
      });
      $("series-list").replaceChildren(...items);
      $("series-none").disabled = list.length === 0;
      $("series-all").disabled = list.length === 0;
    }

    function drawChart() {
      if (!shown || problemWith("series")) return;
      const asked = shown.state;
      const starts = periodStarts(asked);
      const visible = shown.data.series
        .map((series, index) => ({ series, style: TrendChart.styleOf(index) }))
        .filter(({ series }) => !state.hide.has(seriesKey(series)))
        .map(({ series, style }) => ({ name: seriesName(series), style, values: series.points.map((p) => p.hires) }));
      const total = shown.data.series.length;
      TrendChart.draw($("trend-chart"), {
        title: $("trend-title").textContent + ", " + periodLabel(starts[0], asked.granularity) + " to " +
          periodLabel(starts[starts.length - 1], asked.granularity) + ": " + visible.length + " of " + total + " series shown",
        labels: starts.map((start, i) => axisLabel(start, asked.granularity, i === 0)),
        highlight: starts.indexOf(comparedPeriod(asked)),
        series: visible,
        empty: total === 0 ? "No hires in this range" : "Every series is hidden: tick one in the list",
      });
      $("trend-chart").dataset.series = String(visible.length);
    }

    /** The chart's numbers: a row per series, a column per period. */
    function fillDataTable(list) {
      const asked = shown.state;
      const starts = periodStarts(asked);
      const head = element("tr", {}, [cell("Series", "", "th"), ...starts.map((s) => cell(periodLabel(s, asked.granularity), "number", "th")), cell("Total", "number", "th")]);
      for (const th of head.cells) th.scope = "col";
      const rows = list.map((series) => element("tr", {}, [
        element("th", { scope: "row", textContent: seriesName(series) }),
        ...series.points.map((p) => cell(String(p.hires), "number")),
        cell(String(series.total), "number"),
      ]));
      $("trend-data").replaceChildren(element("table", {}, [element("thead", {}, [head]), element("tbody", {}, rows)]));
    }

    // ---- The comparison ----

    /** The name columns of the comparison: [header, cell maker]. */
    function nameColumns() {
      const department = ["Department", (row) => cell(departmentLink(row.departmentId, row.department))];
      const job = ["Job", (row) => cell(row.job)];
      if (drilled()) return [job];
      if (state.by === "TOTAL") return [["Series", () => cell("All hires")]];
      if (state.by === "DEPARTMENT") return [department];
      if (state.by === "JOB") return [job];
      return [department, job];
    }

    function comparisonHead(names, at) {
      const granularity = shown.state.granularity;
      const size = PERIOD_MONTHS[granularity];
      const th = (text, props) => element("th", { textContent: text, ...props });
      const first = element("tr", {}, [
        ...names.map(([name]) => th(name, { rowSpan: 2, scope: "col" })),
        th(periodLabel(at, granularity), { rowSpan: 2, scope: "col", className: "number" }),
        th("Against " + periodLabel(at - size, granularity), { colSpan: 3, scope: "colgroup", className: "group" }),
        th("Against " + periodLabel(at - 12, granularity), { colSpan: 3, scope: "colgroup", className: "group" }),
      ]);
      const second = element("tr", {}, ["Hires", "Change", "%", "Hires", "Change", "%"].map((text) => th(text, { scope: "col", className: "number" })));
      $("comparison-table").tHead.replaceChildren(first, second);
    }

    function comparisonRow(names, row) {
      return element("tr", {}, [
        ...names.map(([, make]) => make(row)),
        cell(String(row.hires), "number"),
        cell(String(row.previous), "number"),
        changeCell(row.changeFromPrevious),
        percentCell(row.percentChangeFromPrevious),
        cell(String(row.yearEarlier), "number"),
        changeCell(row.changeFromYearEarlier),
        percentCell(row.percentChangeFromYearEarlier),
      ]);
    }

    function showComparison() {
      const asked = shown.state;
      const at = comparedPeriod(asked);
      const complete = at + PERIOD_MONTHS[asked.granularity] <= thisMonth();
      const name = PERIOD_NAMES[asked.granularity];
      $("comparison-title").textContent = periodLabel(at, asked.granularity) + " compared";
      $("comparison-caption").textContent = "Hires in " + periodLabel(at, asked.granularity) +
        (asked.at ? "" : complete ? " (the last complete " + name + " in the range)" : " (not over yet)") +
        " against the " + name + " before and the same " + name + " a year earlier.";
      const names = nameColumns();
      comparisonHead(names, at);
      const columns = names.length + 7;
      const problem = problemWith("comparison");
      if (problem) return messageRow($("comparison-table"), "Could not load: " + describe(problem), "error", columns);
      const rows = shown.data.comparison;
      if (rows.length === 0) return messageRow($("comparison-table"), "No hires in these periods.", "loading", columns);
      $("comparison-table").tBodies[0].replaceChildren(...rows.map((row) => comparisonRow(names, row)));
    }

    // ---- The top departments or jobs ----

    function showTop() {
      const problem = problemWith("top");
      if (problem) return messageRow($("top-table"), "Could not load: " + describe(problem), "error", 4);
      const rows = shown.data.top;
      if (rows.length === 0) return messageRow($("top-table"), "No hires in this range.", "loading", 4);
      $("top-table").tBodies[0].replaceChildren(...rows.map((row) => element("tr", {}, [
        cell(String(row.rank), "number"),
        row.departmentId != null ? cell(departmentLink(row.departmentId, row.department)) : cell(row.job),
        cell(String(row.hires), "number"),
        shareCell(row.share),
      ])));
    }

    // ---- CSV downloads ----

    /** The ids of the visible series when some are hidden and the breakdown has one id per series. */
    function visibleIds() {
      if (!shown || !shown.data.series || state.hide.size === 0) return null;
      const by = drilled() ? "JOB" : state.by;
      if (by !== "DEPARTMENT" && by !== "JOB") return null;
      const ids = shown.data.series.filter((s) => !state.hide.has(seriesKey(s))).map((s) => (by === "JOB" ? s.jobId : s.departmentId));
      return ids.length ? { name: by === "JOB" ? "jobIds" : "departmentIds", ids } : null;
    }

    /** The URL and file name of one of the view's CSV exports. */
    function csvExport(report) {
      const variables = variablesOf(state);
      const range = { from: variables.from, to: variables.to };
      const suffix = (state.department ? "-department-" + state.department : "");
      if (report === "hires-over-time") {
        const params = { ...range, granularity: state.granularity, by: drilled() ? "JOB" : state.by };
        if (drilled()) params.departmentIds = String(state.department);
        const visible = visibleIds();
        if (visible) params[visible.name] = visible.ids.join(",");
        return [report, params, report + "-" + state.from + "-to-" + state.to + suffix];
      }
      if (report === "hires-comparison") {
        const params = { period: state.granularity, at: variables.at, by: drilled() ? "JOB" : state.by };
        if (drilled()) params.departmentIds = String(state.department);
        return [report, params, report + "-" + monthText(comparedPeriod(state)) + "-" + state.granularity.toLowerCase()];
      }
      const top = drilled() ? "top-jobs" : "top-departments";
      const params = drilled() ? { departmentId: String(state.department), ...range, first: String(TOP) } : { ...range, first: String(TOP) };
      return [top, params, top + "-" + state.from + "-to-" + state.to + suffix];
    }

    function download(report) {
      const [path, params, name] = csvExport(report);
      const query = new URLSearchParams(params).toString().replaceAll("%2C", ",");
      deps.download("/reports/" + path + ".csv?" + query, name + ".csv");
    }

    // ---- Wiring ----

    /** Follows a click on a department link or the breadcrumb, unless it opens elsewhere. */
    function followLink(event) {
      const link = event.target.closest("a");
      if (!link || !$("trends-view").contains(link) || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      const next = stateFrom(new URL(link.href).searchParams);
      change({ ...next, hide: new Set() }, true);
    }

    function wire() {
      for (const id of ["trend-from", "trend-to", "trend-granularity", "trend-by"]) $(id).addEventListener("change", controlsChanged);
      $("trend-controls").addEventListener("submit", (event) => event.preventDefault());
      $("comparison-period").addEventListener("change", () => change({ ...state, at: $("comparison-period").value }, false));
      $("series-list").addEventListener("change", (event) => toggleSeries(event.target.dataset.key, event.target.checked));
      $("series-all").addEventListener("click", () => showAll(true));
      $("series-none").addEventListener("click", () => showAll(false));
      $("trends-view").addEventListener("click", followLink);
      for (const button of document.querySelectorAll("button.trend-csv")) {
        button.addEventListener("click", () => download(button.dataset.report));
      }
      let width = 0;
      new ResizeObserver(() => {
        const now = $("trend-chart").clientWidth;
        if (now !== width && !$("trends-view").hidden) drawChart();
        width = now;
      }).observe($("trend-chart"));
    }

    wire();
    return {
      /** Takes the state from a URL query; true when showing it needs a request. */
      follow(params) {
        state = stateFrom(params);
        if (searchOf(state) !== "?" + params.toString().replaceAll("%2C", ",")) deps.navigate(searchOf(state), false);
        fillControls();
        const needed = requestKey(state) !== shownKey;
        if (!needed) showSeries();
        return needed;
      },
      load,
      /** Drops any answer still coming (another view or another token took over). */
      cancel: () => { requested += 1; },
      search: () => searchOf(state),
      get shown() { return shown !== null; },
    };
  }

  global.TrendView = { create };
})(window);
