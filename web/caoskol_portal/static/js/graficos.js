// Draws the teacher dashboard's charts from the JSON the server embedded in the page.
// No inline script (the CSP allows only this origin's files); Chart.js comes from
// static/vendor/, installed from the npm registry at build time.
(function () {
  "use strict";
  var COLORES = ["#1f6fb2", "#e07b24", "#2e9e5b", "#b23a48", "#7a5195"];

  function leer(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function grafico(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") { return null; }
    config.options = Object.assign({ responsive: true, animation: false, maintainAspectRatio: true }, config.options || {});
    var chart = new Chart(canvas, config);
    canvas.dataset.dibujado = "si";
    return chart;
  }

  function fmt(v, dec) {
    if (v === null || v === undefined) { return "sin dato"; }
    var s = Number(v).toFixed(dec);
    if (Number(s) === 0) { s = (0).toFixed(dec); }  // -0.004 shows "0,00", not "-0,00"
    return s.replace(".", ",");
  }

  var t = leer("datos-tablero");
  if (!t) { return; }

  grafico("grafico-promedios", {
    type: "bar",
    data: {
      labels: t.promedios.map(function (p) { return p.etiqueta; }),
      datasets: [{ label: "Promedio", data: t.promedios.map(function (p) { return p.media; }), backgroundColor: COLORES.slice(0, 3) }]
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, max: 100 } } }
  });

  grafico("grafico-premios", {
    type: "pie",
    data: {
      labels: ["Con premios", "Sin premios"],
      datasets: [{ data: [t.premios.con, t.premios.sin], backgroundColor: [COLORES[2], COLORES[3]] }]
    }
  });

  grafico("grafico-por-grado", {
    type: "bar",
    data: {
      labels: t.medias_por_grado.etiquetas,
      datasets: t.medias_por_grado.series.map(function (s, i) {
        return { label: s.etiqueta, data: s.medias, backgroundColor: COLORES[i % COLORES.length] };
      })
    },
    options: { scales: { y: { beginAtZero: true, max: 100 } } }
  });

  grafico("grafico-estudiantes-grado", {
    type: "bar",
    data: {
      labels: t.estudiantes_por_grado.map(function (r) { return r.etiqueta; }),
      datasets: [{ label: "Estudiantes", data: t.estudiantes_por_grado.map(function (r) { return r.n; }), backgroundColor: COLORES[0] }]
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });

  grafico("grafico-correlaciones", {
    type: "bar",
    data: {
      labels: t.correlaciones.map(function (c) {
        return c.etiqueta + " (n=" + c.n + (c.definido ? ")" : ", no definido)");
      }),
      datasets: [{ label: "r de Pearson", data: t.correlaciones.map(function (c) { return c.r; }), backgroundColor: COLORES[4] }]
    },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: function (ctx) {
          var c = t.correlaciones[ctx.dataIndex];
          return c.definido ? "r = " + fmt(c.r, 2) + " (n = " + c.n + ")" : "no definido (n = " + c.n + ")";
        } } }
      },
      scales: { y: { min: -1, max: 1 } }
    }
  });

  var tend = leer("datos-tendencia");
  if (tend && tend.ejecuciones && tend.ejecuciones.length > 1) {
    grafico("grafico-tendencia", {
      type: "line",
      data: {
        labels: tend.ejecuciones.map(function (e) { return e.etiqueta; }),
        datasets: tend.series.map(function (s, i) {
          return { label: s.etiqueta, data: s.medias, borderColor: COLORES[i % COLORES.length], backgroundColor: COLORES[i % COLORES.length], spanGaps: true };
        })
      },
      options: { scales: { y: { beginAtZero: false } } }
    });
  }
  document.body.dataset.graficos = "listos";
})();
