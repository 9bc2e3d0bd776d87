// mgops console: live SLA clocks, checklist ticks in place, copy buttons, timechart.
// Plain JavaScript, no framework; every page works without it (forms post normally).
"use strict";

(function () {
  // Count from the server's clock, not the browser's: a skewed laptop must not
  // show a clock as met or overdue when it is not.
  const serverNow = Date.parse(document.body.dataset.serverNow || "");
  const skew = Number.isNaN(serverNow) ? 0 : serverNow - Date.now();
  const now = () => Date.now() + skew;

  function span(ms) {
    const total = Math.floor(Math.abs(ms) / 1000);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h > 0 ? `${h}h ${pad(m)}m ${pad(s)}s` : `${m}m ${pad(s)}s`;
  }

  function tickClocks() {
    document.querySelectorAll(".clock[data-due]").forEach((el) => {
      const state = el.dataset.state;
      const due = Date.parse(el.dataset.due);
      if (Number.isNaN(due) || (state !== "pending" && state !== "overdue")) return;
      const left = due - now();
      const overdue = left < 0;
      el.textContent = overdue ? `overdue by ${span(left)}` : `${span(left)} left`;
      el.classList.toggle("overdue", overdue);
      el.classList.toggle("pending", !overdue);
      el.dataset.live = overdue ? "overdue" : "pending";
    });
  }

  function announce(text, isError) {
    let region = document.getElementById("live-region");
    if (!region) {
      region = document.createElement("p");
      region.id = "live-region";
      region.setAttribute("role", "status");
      region.className = "flash";
      document.getElementById("main").prepend(region);
    }
    region.textContent = text;
    region.classList.toggle("error", Boolean(isError));
    region.classList.toggle("ok", !isError);
  }

  async function tick(box) {
    const form = box.closest("form");
    const want = box.checked;
    form.querySelector("input[name=ticked]").value = want ? "true" : "false";
    const body = new FormData(form);
    box.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const data = await response.json();
      if (!response.ok || !data.ok) throw new Error(data.message || "refused");
      form.querySelector(".ticked-by").textContent = want ? "just now" : "";
      announce(data.message, false);
    } catch (err) {
      box.checked = !want;
      form.querySelector("input[name=ticked]").value = want ? "false" : "true";
      announce(`Not saved: ${err.message}`, true);
    } finally {
      box.disabled = false;
      box.focus();
    }
  }

  async function copy(button) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = source.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch (err) {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  }

  // The status update form shows the message it would post, as the policy's
  // template renders it, while the responder types.
  function previewUpdates(form) {
    let timer = null;
    const target = document.getElementById("rendered-update");
    const heading = document.getElementById("rendered-h");
    const refresh = async () => {
      const response = await fetch(form.dataset.preview, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) return;
      const data = await response.json();
      target.textContent = data.text;
      heading.textContent = "Message preview";
    };
    form.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 300);
    });
  }

  function drawTimechart() {
    const canvas = document.getElementById("timechart");
    const data = document.getElementById("timechart-data");
    if (!canvas || !data) return;
    const series = JSON.parse(data.textContent);
    const points = series.points.map((p) => ({ t: Date.parse(p.at), v: p.value }));
    if (!points.length) return;
    const width = canvas.clientWidth || canvas.width;
    canvas.width = width;
    const height = canvas.height;
    const ctx = canvas.getContext("2d");
    const pad = { left: 48, right: 12, top: 12, bottom: 28 };
    const t0 = points[0].t;
    const t1 = points[points.length - 1].t;
    const vmax = Math.max(1, ...points.map((p) => p.v));
    const x = (t) => pad.left + ((t - t0) / Math.max(1, t1 - t0)) * (width - pad.left - pad.right);
    const y = (v) => height - pad.bottom - (v / vmax) * (height - pad.top - pad.bottom);
    ctx.clearRect(0, 0, width, height);
    ctx.strokeStyle = "#555";
    ctx.fillStyle = "#222";
    ctx.font = "12px system-ui, sans-serif";
    ctx.beginPath();
    ctx.moveTo(pad.left, pad.top);
    ctx.lineTo(pad.left, height - pad.bottom);
    ctx.lineTo(width - pad.right, height - pad.bottom);
    ctx.stroke();
    ctx.fillText(String(vmax), 4, pad.top + 8);
    ctx.fillText("0", 4, height - pad.bottom);
    const fmt = (t) => new Date(t).toISOString().slice(11, 16);
    ctx.fillText(fmt(t0), pad.left, height - 8);
    ctx.fillText(fmt(t1), width - pad.right - 36, height - 8);
    const barWidth = Math.max(2, (width - pad.left - pad.right) / points.length - 2);
    ctx.fillStyle = "#1a5fb4";
    points.forEach((p) => {
      ctx.fillRect(x(p.t) - barWidth / 2, y(p.v), barWidth, height - pad.bottom - y(p.v));
    });
    canvas.dataset.drawn = String(points.length);
  }

  // Pages that list live state (the board) reload themselves now and then, but
  // never while someone is typing into one of their forms.
  function refreshEvery(seconds) {
    let dirty = false;
    document.addEventListener("input", () => { dirty = true; });
    setInterval(() => {
      const typing = document.activeElement && document.activeElement.form;
      if (!dirty && !typing) window.location.reload();
    }, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const refresh = Number(document.body.dataset.refresh || 0);
    if (refresh > 0) refreshEvery(refresh);
    tickClocks();
    setInterval(tickClocks, 1000);
    document.querySelectorAll(".tick-form input[type=checkbox]").forEach((box) => {
      box.addEventListener("change", () => tick(box));
    });
    document.querySelectorAll("button.copy").forEach((button) => {
      button.addEventListener("click", () => copy(button));
    });
    document.querySelectorAll("form[data-preview]").forEach(previewUpdates);
    drawTimechart();
  });
})();
