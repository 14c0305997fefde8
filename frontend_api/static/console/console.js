// The console's overview page: live panels from ws/console/, charts from series.json (uPlot).
// Plain script, no build step. Every value from the server is inserted as text, never HTML.
(function () {
  "use strict";
  var config = window.GROVE_CONSOLE;
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }
  function fill(tbody, rows) {
    tbody.replaceChildren.apply(tbody, rows);
  }
  function treeLink(id) {
    if (!id) return el("span", "");
    return el("a", id.slice(0, 8), { href: config.tree.replace("00000000-0000-0000-0000-000000000000", id) });
  }

  // --- live panels -------------------------------------------------------------------
  function renderFunnel(data) {
    var table = document.getElementById("funnel");
    var head = el("tr");
    head.appendChild(el("th", "lang"));
    data.states.forEach(function (state) { head.appendChild(el("th", state.replace(/_/g, " "))); });
    head.appendChild(el("th", "total"));
    table.tHead.replaceChildren(head);
    var langs = Object.keys(data.funnel).sort();
    fill(table.tBodies[0], langs.map(function (lang) {
      var row = el("tr", null, { "data-lang": lang });
      row.appendChild(el("th", lang));
      var total = 0;
      data.states.forEach(function (state) {
        var n = data.funnel[lang][state] || 0;
        total += n;
        row.appendChild(el("td", n, { "data-state": state, "class": n ? "" : "zero" }));
      });
      row.appendChild(el("td", total, { "data-state": "total" }));
      return row;
    }));
    if (!langs.length) fill(table.tBodies[0], [el("tr").appendChild(el("td", "no trees yet")).parentNode]);
  }

  // OA's task categories (TaskCategory), in the order a tree needs them.
  var CATEGORIES = [["prompt", "prompts"], ["label_prompt", "prompt reviews"], ["reply", "replies"],
    ["label_reply", "reply reviews"], ["ranking", "rankings"]];
  function workText(work) {
    var parts = CATEGORIES.filter(function (c) { return work && work[c[0]]; }).map(function (c) {
      return c[1] + " " + work[c[0]];
    });
    return parts.length ? parts.join(" · ") : "none";
  }

  function renderWork(data) {
    fill(document.querySelector("#work tbody"), data.work.map(function (row) {
      var tr = el("tr", null, { "data-lang": row.lang, "class": row.starving ? "starving" : "" });
      tr.appendChild(el("th", row.lang));
      tr.appendChild(el("td", row.slots, { "data-field": "slots" }));
      tr.appendChild(el("td", workText(row.work), { "data-field": "work", "class": "work" }));
      tr.appendChild(el("td", row.volunteers_ready === null ? "unknown" : row.volunteers_ready,
        { "data-field": "volunteers_ready" }));
      tr.appendChild(el("td", row.rest_active === undefined ? "-" : row.rest_active === null ? "unknown" : row.rest_active,
        { "data-field": "rest_active" }));
      tr.appendChild(el("td", row.unserved === undefined ? "-" : row.unserved, { "data-field": "unserved" }));
      tr.appendChild(el("td", row.starving ? "starving" : ""));
      return tr;
    }));
  }

  function renderRates(data) {
    var kinds = Object.keys(data.tasks_per_minute).sort();
    fill(document.querySelector("#rates tbody"), kinds.length ? kinds.map(function (kind) {
      var tr = el("tr", null, { "data-kind": kind });
      tr.appendChild(el("th", kind));
      tr.appendChild(el("td", data.tasks_per_minute[kind]));
      return tr;
    }) : [el("tr").appendChild(el("td", "none")).parentNode]);
    var latency = data.latency;
    var text = "-";
    if (latency) {
      text = latency.requests + " requests" +
        (latency.span_seconds === null ? " since this process started" : " in the last " + latency.span_seconds + " s") +
        ": p50 " + (latency.p50_ms === null ? "-" : latency.p50_ms + " ms") +
        ", p99 " + (latency.p99_ms === null ? "-" : latency.p99_ms + " ms") +
        (latency.scope === "deployment" ? " (every web process)" : " (this machine only)");
    }
    document.getElementById("latency").textContent = text;
  }

  function renderQueues(data) {
    var box = document.getElementById("queues");
    var q = data.queues;
    if (q.mode === "eager") box.textContent = "no broker: jobs run in the process that sends them";
    else if (q.error) box.textContent = "broker unreadable: " + q.error;
    else {
      box.textContent = Object.keys(q.waiting).map(function (name) {
        return name + " " + q.waiting[name];
      }).join(" · ") + " · delivered, not acked " + q.unacked;
    }
    var failed = document.getElementById("failed-jobs");
    failed.replaceChildren(el("p", data.failed_jobs.last_hour + " in the last hour",
      { "class": data.failed_jobs.last_hour ? "alert" : "" }));
    data.failed_jobs.recent.forEach(function (job) {
      failed.appendChild(el("p", job.at.slice(0, 19) + " " + job.job + ": " + job.exception, { "class": "note" }));
    });
  }

  function renderEvents(data) {
    fill(document.querySelector("#events tbody"), data.events.map(function (event) {
      var tr = el("tr", null, { "data-event": event.event });
      tr.appendChild(el("td", event.at.slice(0, 19).replace("T", " ")));
      tr.appendChild(el("td", event.event));
      var cell = el("td");
      cell.appendChild(treeLink(event.tree_id));
      tr.appendChild(cell);
      tr.appendChild(el("td", event.actor));
      tr.appendChild(el("td", JSON.stringify(event.payload), { "class": "payload" }));
      return tr;
    }));
  }

  function render(data) {
    renderFunnel(data);
    renderWork(data);
    renderRates(data);
    renderQueues(data);
    renderEvents(data);
    document.getElementById("updated-at").textContent = new Date(data.at).toLocaleTimeString();
    var version = document.getElementById("config-version");
    if (version.textContent !== String(data.config_version)) {
      version.textContent = data.config_version;
      loadCharts();
    }
  }

  // --- the socket ----------------------------------------------------------------------
  var retry = 1000;
  function connect() {
    var status = document.getElementById("ws-status");
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.socket;
    var socket = new WebSocket(url);
    socket.onopen = function () { retry = 1000; };
    socket.onmessage = function (message) {
      var frame = JSON.parse(message.data);
      if (frame.type === "overview") {
        status.textContent = "live";
        render(frame);
      } else if (frame.type === "error") {
        status.textContent = "refused: " + frame.message;
      }
    };
    socket.onclose = function (event) {
      if (event.code === 4401 || event.code === 4403) return;  // refused: reloading will not help
      status.textContent = "reconnecting";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  // --- charts ----------------------------------------------------------------------------
  var charts = [];
  function markerPlugin(markers) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = "#c0392b";
          ctx.fillStyle = "#c0392b";
          ctx.setLineDash([6, 4]);
          ctx.font = "12px sans-serif";
          markers.forEach(function (marker) {
            var x = Math.round(u.valToPos(marker.t, "x", true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillText("v" + marker.version, x + 4, u.bbox.top + 14);
          });
          ctx.restore();
        }]
      }
    };
  }

  function chart(target, title, names, x, columns, markers, minX, maxX) {
    var series = [{}].concat(names.map(function (name, i) {
      return { label: name, stroke: PALETTE[i % PALETTE.length], width: 2 };
    }));
    var width = Math.max(document.getElementById(target).clientWidth, 300);
    charts.push(new uPlot({
      title: title, width: width, height: 220, series: series,
      scales: { x: { time: true, range: [minX, maxX] } },
      plugins: [markerPlugin(markers)]
    }, [x].concat(columns), document.getElementById(target)));
  }

  function sumOver(langs, byLang, pick) {
    return langs.reduce(function (total, lang) { return total + (pick(byLang[lang]) || 0); }, 0);
  }

  function drawCharts(series) {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var langSelect = document.getElementById("chart-lang");
    var chosen = langSelect.value;
    var snapshots = series.snapshots;
    var allLangs = {};
    snapshots.forEach(function (s) { Object.keys(s.trees).forEach(function (l) { allLangs[l] = 1; }); });
    var known = Array.prototype.map.call(langSelect.options, function (o) { return o.value; });
    Object.keys(allLangs).sort().forEach(function (lang) {
      if (known.indexOf(lang) < 0) langSelect.appendChild(el("option", lang, { value: lang }));
    });
    var markers = series.config_versions.map(function (v) {
      return { t: Date.parse(v.at) / 1000, version: v.version, by: v.by, comment: v.comment };
    });
    var list = document.getElementById("config-markers");
    list.replaceChildren.apply(list, markers.map(function (m) {
      return el("li", "v" + m.version + " active from " + new Date(m.t * 1000).toLocaleString() +
        " (" + m.by + (m.comment ? ": " + m.comment : "") + ")", { "data-version": m.version });
    }));
    document.getElementById("chart-empty").hidden = snapshots.length > 0;
    if (!snapshots.length) return;
    var minX = Date.parse(series.since) / 1000, maxX = Date.parse(series.until) / 1000;
    var x = snapshots.map(function (s) { return Date.parse(s.at) / 1000; });
    var langsOf = function (byLang) { return chosen ? [chosen] : Object.keys(byLang || {}); };

    var states = JSON.parse(document.getElementById("overview-data").textContent).states;
    chart("chart-trees", "Trees by state" + (chosen ? " (" + chosen + ")" : ""), states, x,
      states.map(function (state) {
        return snapshots.map(function (s) {
          return sumOver(langsOf(s.trees), s.trees, function (byState) { return (byState || {})[state]; });
        });
      }), markers, minX, maxX);

    var kinds = {};
    snapshots.forEach(function (s) { Object.keys(s.tasks).forEach(function (k) { kinds[k] = 1; }); });
    kinds = Object.keys(kinds).sort();
    chart("chart-tasks", "Tasks handed out per minute (all languages)", kinds, x,
      kinds.map(function (kind) {
        return snapshots.map(function (s) {
          return s.seconds ? Math.round((s.tasks[kind] || 0) * 600 / s.seconds) / 10 : null;
        });
      }), markers, minX, maxX);

    chart("chart-work", "Open slots and volunteers" + (chosen ? " (" + chosen + ")" : ""),
      ["open slots", "ready (push)", "active (REST)"], x, [
        snapshots.map(function (s) { return sumOver(langsOf(s.ready_work), s.ready_work, Number); }),
        snapshots.map(function (s) {
          return s.volunteers_ready === null ? null :
            sumOver(langsOf(s.volunteers_ready), s.volunteers_ready, Number);
        }),
        snapshots.map(function (s) {
          // null: no figure (no cache Redis, or a snapshot older than the figure)
          return s.rest_active == null ? null : sumOver(langsOf(s.rest_active), s.rest_active, Number);
        })
      ], markers, minX, maxX);

    var latencyOf = function (field) {
      return snapshots.map(function (s) { return s.latency ? s.latency[field] : null; });
    };
    chart("chart-latency", "Task requests (POST /tasks/, every web process): p50 and p99, ms",
      ["p50", "p99"], x, [latencyOf("p50_ms"), latencyOf("p99_ms")], markers, minX, maxX);
  }

  var lastSeries = null;
  function loadCharts() {
    var hours = document.getElementById("chart-hours").value;
    fetch(config.series + "?hours=" + encodeURIComponent(hours), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("series.json answered " + response.status);
        return response.json();
      })
      .then(function (series) { lastSeries = series; drawCharts(series); })
      .catch(function (error) {
        document.getElementById("chart-empty").hidden = false;
        document.getElementById("chart-empty").textContent = String(error);
      });
  }

  document.getElementById("chart-hours").addEventListener("change", loadCharts);
  document.getElementById("chart-lang").addEventListener("change", function () {
    if (lastSeries) drawCharts(lastSeries);
  });
  render(JSON.parse(document.getElementById("overview-data").textContent));
  connect();
  loadCharts();
  setInterval(loadCharts, 60000);
})();
