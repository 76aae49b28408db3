// cashmatch reviewer workspace: keyboard navigation, invoice selection and the live
// applied + unapplied = payment equation. Served as a file (the CSP forbids inline script);
// builds no HTML from data (every text it shows goes through textContent).
(function () {
  "use strict";

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  function typing(target) {
    return !!target && (target.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  function plainKey(e) { return !(e.altKey || e.ctrlKey || e.metaKey); }

  // ---- exact money: decimal strings <-> BigInt minor units (never floats) ----
  function parseMinor(text, exp) {
    const s = String(text).trim().replace(/[\s,]/g, "");
    const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
    if (!m || (m[2] === "" && (m[3] === undefined || m[3] === ""))) return null;
    let frac = (m[3] || "").replace(/0+$/, "");
    if (frac.length > exp) return null;
    frac = frac.padEnd(exp, "0");
    const v = BigInt((m[2] || "0") + frac);
    return m[1] === "-" ? -v : v;
  }
  function formatMinor(v, exp) {
    const neg = v < 0n;
    let s = (neg ? -v : v).toString();
    if (exp > 0) {
      s = s.padStart(exp + 1, "0");
      const whole = s.slice(0, -exp).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
      s = whole + "." + s.slice(-exp);
    } else {
      s = s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    }
    return (neg ? "-" : "") + s;
  }
  function plainMinor(v, exp) { return formatMinor(v, exp).replace(/,/g, ""); }

  // ---- sign-out buttons and other confirmations need no script ----

  // ---- the queue ----
  function initQueue(table) {
    const rows = $$('[data-testid="exception-row"]', table);
    let cur = -1;
    function mark(i) {
      if (!rows.length) return;
      cur = Math.max(0, Math.min(i, rows.length - 1));
      rows.forEach((r, j) => r.classList.toggle("current", j === cur));
      rows[cur].scrollIntoView({ block: "nearest" });
    }
    rows.forEach((row, i) => {
      row.addEventListener("click", (e) => {
        if (e.target.closest("a")) return;
        mark(i);
        window.location.href = row.dataset.href;
      });
    });
    if (rows.length) mark(0);
    document.addEventListener("keydown", (e) => {
      if (!plainKey(e)) return;
      if (e.key === "/" && !typing(e.target)) {
        e.preventDefault();
        const f = $("[data-focus-filter]");
        if (f) { f.focus(); if (f.select) f.select(); }
        return;
      }
      if (e.key === "Escape" && typing(e.target)) { e.target.blur(); return; }
      if (typing(e.target)) return;
      if (e.key === "j" || e.key === "ArrowDown") { e.preventDefault(); mark(cur + 1); }
      else if (e.key === "k" || e.key === "ArrowUp") { e.preventDefault(); mark(cur - 1); }
      else if (e.key === "Enter" && cur >= 0) { e.preventDefault(); window.location.href = rows[cur].dataset.href; }
      else if (e.key === "n") { const a = $("[data-next-page]"); if (a) window.location.href = a.href; }
    });
  }

  // ---- the item: selection, live equation, keyboard actions ----
  function initItem(form) {
    const exp = parseInt(form.dataset.exponent, 10);
    const payment = parseMinor(form.dataset.paymentAmount, exp);
    const picks = $$(".pick-row", form);
    const actions = $$('input[name="action"]', form);
    const submit = $('[data-testid="submit-decision"]', form);
    const eq = $("[data-equation]", form);
    const outApplied = $("[data-applied]", form);
    const outUnapplied = $("[data-unapplied]", form);
    const eqNote = $("[data-eq-note]", form);

    function action() { const a = actions.find((x) => x.checked); return a ? a.value : null; }
    function selected() { return picks.filter((r) => r.classList.contains("selected")); }
    // a selectable row's allocation fields live in the row after it (tr.alloc-row)
    function box(row) {
      const next = row.nextElementSibling;
      return next && next.classList.contains("alloc-row") ? next : row;
    }
    function amountInput(row) { return $('input[name="applied_amount"]', box(row)); }

    function setAction(value) {
      actions.forEach((a) => {
        a.checked = a.value === value;
        a.closest("label").classList.toggle("on", a.checked);
      });
      refresh();
    }

    function enableRow(row, on) {
      $$("[data-alloc-field]", box(row)).forEach((el) => { el.disabled = !on; });
    }

    function appliedTotal(except) {
      let sum = 0n;
      for (const row of selected()) {
        if (row === except) continue;
        const v = parseMinor(amountInput(row).value, exp);
        if (v !== null && v > 0n) sum += v;
      }
      return sum;
    }

    function toggle(row, on) {
      const want = on === undefined ? !row.classList.contains("selected") : on;
      const box = $(".pick", row);
      row.classList.toggle("selected", want);
      box.checked = want;
      row.setAttribute("aria-selected", want ? "true" : "false");
      if (want) {
        const open = parseMinor(row.dataset.open, exp);
        let rest = payment - appliedTotal(row);
        if (rest < 0n) rest = 0n;
        const prefill = open !== null && open < rest ? open : rest;
        amountInput(row).value = plainMinor(prefill, exp);
        const cust = $('[data-testid="customer-id"]', form);
        if (cust && !cust.value && row.dataset.customer) cust.value = row.dataset.customer;
        if (action() !== "APPLY") setAction("APPLY");
      }
      refresh();
    }

    function refresh() {
      const apply = action() === "APPLY";
      let applied = 0n;
      let bad = false;
      for (const row of picks) {
        const on = row.classList.contains("selected");
        enableRow(row, on && apply);
        if (!on) continue;
        const input = amountInput(row);
        const v = parseMinor(input.value, exp);
        const adj = parseMinor($('input[name="adjustment_amount"]', box(row)).value || "0", exp);
        const open = parseMinor(row.dataset.open, exp);
        const left = $("[data-left]", box(row));
        input.classList.toggle("invalid", v === null || v < 0n);
        if (v === null || v < 0n || adj === null) { bad = true; left.textContent = "not an amount"; continue; }
        applied += v;
        const after = open - v - adj;
        left.textContent = after === 0n ? "settles the invoice"
          : after > 0n ? "leaves " + formatMinor(after, exp) + " open"
          : "over-applies by " + formatMinor(-after, exp);
        left.classList.toggle("bad", after < 0n);
      }
      if (!apply) applied = 0n;
      const unapplied = payment - applied;
      outApplied.textContent = formatMinor(applied, exp);
      outUnapplied.textContent = formatMinor(unapplied, exp);
      eq.classList.toggle("over", unapplied < 0n || bad);
      eq.classList.toggle("exact", unapplied === 0n && !bad && apply);
      let note = "";
      const act = action();
      if (bad) note = "an amount is not valid";
      else if (unapplied < 0n) note = "more than the payment: reduce an amount";
      else if (act === "APPLY" && applied === 0n) note = "select at least one invoice";
      else if (act === "APPLY" && unapplied > 0n) note = "the rest stays unapplied on the customer's account";
      else if (act === "ON_ACCOUNT") note = "the whole payment goes on account";
      else if (act === "REFUND") note = "the whole payment is refunded";
      else if (act === "WRITE_OFF") note = "the whole payment is written off";
      else if (!act) note = "choose an action";
      eqNote.textContent = note;
      submit.disabled = !act || (act === "APPLY" && (bad || unapplied < 0n || applied === 0n));
    }

    picks.forEach((row) => {
      row.addEventListener("click", (e) => {
        if (e.target.closest("[data-alloc-field], a, label.inline-field")) return;
        if (e.target.classList.contains("pick")) { toggle(row, e.target.checked); return; }
        toggle(row);
      });
      $$("[data-alloc-field]", box(row)).forEach((el) => el.addEventListener("input", refresh));
      if (row.classList.contains("selected")) $(".pick", row).checked = true;
    });
    actions.forEach((a) => a.addEventListener("change", () => setAction(a.value)));

    const search = $("[data-open-search]");
    if (search) {
      search.addEventListener("input", () => {
        const q = search.value.trim().toLowerCase();
        let shown = 0;
        $$('[data-testid="open-item"]').forEach((row) => {
          const hit = !q || row.dataset.search.indexOf(q) >= 0;
          row.hidden = !hit;
          if (box(row) !== row) box(row).hidden = !hit;
          if (hit) shown += 1;
        });
        const count = $("[data-open-count]");
        if (count) count.textContent = String(shown);
      });
    }

    form.addEventListener("submit", (e) => {
      if (submit.disabled) { e.preventDefault(); return; }
      refresh();
      if (submit.disabled) { e.preventDefault(); return; }
      // one submission only: a second click or Enter does nothing
      if (form.dataset.sent) { e.preventDefault(); return; }
      form.dataset.sent = "1";
      window.setTimeout(() => { submit.disabled = true; }, 0);
    });

    const keyAction = { a: "APPLY", o: "ON_ACCOUNT", r: "REFUND", w: "WRITE_OFF" };
    const candidates = picks.filter((r) => r.dataset.testid === "candidate");
    document.addEventListener("keydown", (e) => {
      if (!plainKey(e)) return;
      const t = e.target;
      if (e.key === "Escape" && typing(t)) { t.blur(); return; }
      if (e.key === "Enter") {
        if (t && t.matches && t.matches("[data-open-search]")) { e.preventDefault(); return; }
        if (t && (t.tagName === "TEXTAREA" || t.tagName === "BUTTON" || t.tagName === "A")) return;
        if (t && t.form && t.form !== form) return;
        e.preventDefault();
        if (!submit.disabled) form.requestSubmit(submit);
        return;
      }
      if (typing(t)) return;
      if (keyAction[e.key]) { e.preventDefault(); setAction(keyAction[e.key]); return; }
      if (e.key === "m") { e.preventDefault(); const r = $('[data-testid="remember"]'); if (r && !r.disabled) r.checked = !r.checked; return; }
      if (e.key === "/") {
        e.preventDefault();
        const s = search || $('[data-testid="find-invoice"]');
        if (s) s.focus();
        return;
      }
      if (e.key === "n") { const a = $("[data-next-item]"); if (a) window.location.href = a.href; return; }
      if (e.key === "q" || e.key === "u") { const a = $("[data-back]"); if (a) window.location.href = a.href; return; }
      if (/^[1-9]$/.test(e.key)) {
        const row = candidates[parseInt(e.key, 10) - 1];
        if (row) { e.preventDefault(); toggle(row); }
      }
    });

    const checked = actions.find((a) => a.checked);
    if (checked) setAction(checked.value); else refresh();
  }

  function initResult() {
    // after a decision: n opens the next item, q goes back to the queue
    document.addEventListener("keydown", (e) => {
      if (!plainKey(e) || typing(e.target)) return;
      if (e.key === "n" || e.key === "Enter") { const a = $("[data-next-item]"); if (a) { e.preventDefault(); window.location.href = a.href; } }
      else if (e.key === "q" || e.key === "u") { const a = $("[data-back]"); if (a) window.location.href = a.href; }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const table = $("table.queue");
    if (table) initQueue(table);
    const form = $("form[data-decision]");
    if (form) initItem(form);
    else if ($("[data-testid='decision-result']")) initResult();
  });
})();
