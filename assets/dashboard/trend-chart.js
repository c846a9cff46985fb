// The trend view's line chart, drawn as inline SVG (no bitmap, no library),
// so that hiding a series redraws it at once without asking the server.
//
//   TrendChart.styleOf(index)       // the colour and dash pattern of the index-th series
//   TrendChart.swatch(style)        // a small SVG sample of that line, for the series toggles
//   TrendChart.draw(container, {    // replaces container's content with the chart
//     title, labels: [["Jan", "2021"], ["Feb"], …], highlight: bucketIndex or -1,
//     series: [{ name, style, values: [hires per bucket] }],   // the visible series only
//   });
//
// Colour is never the only cue: past eight series the lines are dashed or
// dotted, every line and point has a tooltip naming it, and the toggles show
// each line's pattern next to its name.
"use strict";

(function (global) {
  const SVG = "http://www.w3.org/2000/svg";
  // The Okabe–Ito palette of the server's charts (safe for the common kinds
  // of colour blindness), the darker colours first and the pale yellow last.
  const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#e69f00", "#cc79a7", "#56b4e9", "#000000", "#f0e442"];
  const DASHES = ["", "7 4", "2 3"];
  const MARGIN = { top: 14, right: 18, bottom: 44, left: 44 };
  // The least room between two x-axis labels, in pixels.
  const LABEL_ROOM = 56;

  /** The colour and dash pattern of the series at `index` in the full list. */
  function styleOf(index) {
    return {
      color: PALETTE[index % PALETTE.length],
      dash: DASHES[Math.floor(index / PALETTE.length) % DASHES.length],
    };
  }

  /** An SVG element with `attributes` and `children` (elements or text). */
  function svg(tag, attributes, children) {
    const element = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== "" && value !== null && value !== undefined) element.setAttribute(name, String(value));
    }
    for (const child of children || []) element.append(child);
    return element;
  }

  const tooltip = (text) => svg("title", {}, [text]);

  /** A 28×10 sample of a series' line. */
  function swatch(style) {
    return svg("svg", { width: 28, height: 10, viewBox: "0 0 28 10", "aria-hidden": "true", class: "swatch" }, [
      svg("line", { x1: 1, y1: 5, x2: 27, y2: 5, stroke: style.color, "stroke-width": 3, "stroke-dasharray": style.dash }),
    ]);
  }

  /** A round axis step: 1, 2 or 5 times a power of ten, about max / 4. */
  function niceStep(max) {
    const rough = Math.max(max, 1) / 4;
    const power = 10 ** Math.floor(Math.log10(rough));
    const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= rough);
    return Math.max(1, step);
  }

  /** Where things go: the plot's box and the scales from bucket and value to pixels. */
  function layout(width, height, buckets, series) {
    const plot = { left: MARGIN.left, top: MARGIN.top, right: width - MARGIN.right, bottom: height - MARGIN.bottom };
    const max = Math.max(0, ...series.flatMap((s) => s.values));
    const step = niceStep(max);
    const top = Math.max(step, Math.ceil(max / step) * step);
    const spacing = buckets > 1 ? (plot.right - plot.left) / (buckets - 1) : 0;
    const x = (i) => (buckets > 1 ? plot.left + i * spacing : (plot.left + plot.right) / 2);
    const y = (value) => plot.bottom - (value / top) * (plot.bottom - plot.top);
    return { plot, step, top, spacing, x, y };
  }

  function yAxis(at) {
    const group = svg("g", { class: "y-axis" });
    for (let value = 0; value <= at.top; value += at.step) {
      const y = at.y(value);
      group.append(
        svg("line", { x1: at.plot.left, x2: at.plot.right, y1: y, y2: y, class: value === 0 ? "axis" : "grid" }),
        svg("text", { x: at.plot.left - 6, y: y + 4, "text-anchor": "end" }, [String(value)]),
      );
    }
    return group;
  }

  /** Every k-th label, k chosen so that labels keep LABEL_ROOM pixels apart. */
  function xAxis(at, labels) {
    const group = svg("g", { class: "x-axis" });
    const every = at.spacing > 0 ? Math.max(1, Math.ceil(LABEL_ROOM / at.spacing)) : 1;
    labels.forEach((lines, i) => {
      if (i % every !== 0) return;
      const x = at.x(i);
      group.append(svg("line", { x1: x, x2: x, y1: at.plot.bottom, y2: at.plot.bottom + 4, class: "axis" }));
      lines.forEach((line, row) => {
        group.append(svg("text", { x, y: at.plot.bottom + 17 + row * 14, "text-anchor": "middle" }, [line]));
      });
    });
    return group;
  }

  /** A shaded band behind the compared period. */
  function highlightBand(at, index) {
    const half = Math.max(at.spacing / 2, 8);
    const x = at.x(index);
    return svg("rect", {
      class: "highlight", x: Math.max(at.plot.left, x - half), y: at.plot.top,
      width: Math.min(at.plot.right, x + half) - Math.max(at.plot.left, x - half),
      height: at.plot.bottom - at.plot.top,
    }, [tooltip("The compared period")]);
  }

  function seriesLine(at, labels, series) {
    const points = series.values.map((value, i) => at.x(i) + "," + at.y(value)).join(" ");
    const group = svg("g", { class: "series-line", "data-series": series.name }, [
      svg("polyline", {
        points, fill: "none", stroke: series.style.color, "stroke-width": 2.2,
        "stroke-dasharray": series.style.dash, "stroke-linejoin": "round",
      }, [tooltip(series.name)]),
    ]);
    series.values.forEach((value, i) => {
      group.append(svg("circle", { cx: at.x(i), cy: at.y(value), r: 3, fill: series.style.color }, [
        tooltip(series.name + " · " + labels[i].join(" ") + ": " + value + (value === 1 ? " hire" : " hires")),
      ]));
    });
    return group;
  }

  /** Replaces `container`'s content with the chart of `chart.series` (the visible ones). */
  function draw(container, chart) {
    const width = Math.max(300, Math.floor(container.clientWidth || 800));
    const height = Math.round(Math.max(240, Math.min(380, width * 0.42)));
    const buckets = chart.labels.length;
    const at = layout(width, height, buckets, chart.series);
    const picture = svg("svg", {
      width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": chart.title, class: "line-chart",
    }, [tooltip(chart.title)]);
    if (chart.highlight >= 0 && chart.highlight < buckets) picture.append(highlightBand(at, chart.highlight));
    picture.append(yAxis(at), xAxis(at, chart.labels));
    for (const series of chart.series) picture.append(seriesLine(at, chart.labels, series));
    if (chart.series.length === 0) {
      picture.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty" },
        [chart.empty || "No series shown"]));
    }
    container.replaceChildren(picture);
  }

  global.TrendChart = { styleOf, swatch, draw };
})(window);
