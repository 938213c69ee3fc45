/**
 * The dashboard's one stylesheet, served at /dashboard/style.css (the CSP allows styles from the
 * app only: no inline style attributes anywhere). Colours are custom properties so dark mode (from
 * the system setting) swaps them in one place; every text/background pair is at least WCAG AA
 * (4.5:1) in both schemes. Under 700 px tables become stacked cards, each value under its column's
 * name, so no page scrolls sideways on a 375 px phone.
 */
export const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --surface: #ffffff; --surface-2: #eef0f4; --text: #1d2330; --muted: #4b5563;
  --border: #d5d9e0; --link: #1d4ed8; --focus: #b45309; --header: #1d2330; --header-text: #ffffff;
  --ok-bg: #d5f2dc; --ok-text: #14532d; --bad-bg: #f8d3d3; --bad-text: #7f1d1d;
  --warn-bg: #fbeccb; --warn-text: #713f12; --info-bg: #dbe7fb; --info-text: #1e3a8a;
  --bar: #2563eb; --grid: #d5d9e0;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111318; --surface: #1b1f27; --surface-2: #252a34; --text: #e6e8ec; --muted: #a7adb8;
    --border: #3a404c; --link: #8ab4ff; --focus: #fbbf24; --header: #0b0d11; --header-text: #f3f4f6;
    --ok-bg: #14432a; --ok-text: #c6f6d5; --bad-bg: #5c1d1d; --bad-text: #fecaca;
    --warn-bg: #4a3410; --warn-text: #fde68a; --info-bg: #1e3358; --info-text: #dbeafe;
    --bar: #60a5fa; --grid: #3a404c;
  }
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: var(--text); background: var(--bg); overflow-wrap: break-word; }
h1, dd, .error, .card p { overflow-wrap: anywhere; }
button, .button, .badge { white-space: nowrap; }
td .error { display: block; min-width: 8rem; }
td form.inline { margin-top: .3rem; }
td .mono { overflow-wrap: anywhere; }
figure { margin: 0; }
a { color: var(--link); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -10000px; top: 0; background: var(--surface); color: var(--link); padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: .5rem; top: .5rem; }
header.top { background: var(--header); color: var(--header-text); padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; }
header.top a { color: var(--header-text); text-decoration: none; }
header.top a:hover { text-decoration: underline; }
.brand { font-weight: 700; }
nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
nav a[aria-current="page"] { text-decoration: underline; text-underline-offset: .3em; font-weight: 600; }
.sign-out { margin: 0 0 0 auto; }
.sign-out button { background: transparent; color: var(--header-text); border-color: var(--header-text); }
main { padding: 1rem 1.5rem 3rem; max-width: 100%; }
main:focus { outline: none; }
h1 { font-size: 1.35rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.banner { padding: .6rem .9rem; border-radius: .3rem; border: 1px solid var(--border); }
.banner.done { background: var(--ok-bg); color: var(--ok-text); }
.banner.error { background: var(--bad-bg); color: var(--bad-text); }
.note { background: var(--warn-bg); color: var(--warn-text); padding: .5rem .8rem; border-radius: .3rem; }
.muted, .empty { color: var(--muted); }
.table-wrap { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: var(--surface); }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { overflow-wrap: break-word; text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--border); vertical-align: top; }
th { font-weight: 600; background: var(--surface-2); }
td.num, th.num { text-align: right; }
code, .mono, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: .3rem; font-size: 13px; background: var(--surface-2); color: var(--text); white-space: nowrap; }
.badge.accept, .badge.delivered, .badge.active { background: var(--ok-bg); color: var(--ok-text); }
.badge.reject, .badge.dead, .badge.disabled { background: var(--bad-bg); color: var(--bad-text); }
.badge.resubmit, .badge.failed, .badge.review { background: var(--warn-bg); color: var(--warn-text); }
.badge.pending { background: var(--info-bg); color: var(--info-text); }
.anomaly { color: var(--bad-text); background: var(--bad-bg); padding: .1rem .35rem; border-radius: .25rem; }
.mark { display: inline-block; font-size: 13px; padding: 0 .4rem; border-radius: .25rem; background: var(--warn-bg); color: var(--warn-text); }
.id { display: inline-flex; align-items: baseline; gap: .3rem; max-width: 100%; }
.id > a, .id > span { display: inline-block; max-width: 14ch; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: bottom; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.id.wide > a, .id.wide > span { max-width: 32ch; }
.with-source { display: inline-flex; flex-wrap: wrap; align-items: baseline; gap: .1rem .4rem; max-width: 100%; min-width: 0; }
.source-label { display: inline-block; max-width: 16ch; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: bottom; font-size: 12px; padding: 0 .35rem; border: 1px solid var(--border); border-radius: .25rem; color: var(--muted); background: var(--surface-2); }
button, .button { font: inherit; font-size: 14px; padding: .3rem .7rem; border-radius: .3rem; border: 1px solid var(--border); background: var(--surface-2); color: var(--text); cursor: pointer; text-decoration: none; display: inline-block; }
button.primary, .button.primary { background: var(--link); color: var(--surface); border-color: var(--link); }
button.danger { background: var(--bad-bg); color: var(--bad-text); }
button.copy { font-size: 12px; padding: 0 .35rem; }
form { margin: 0; }
form.filters { margin: .5rem 0 1rem; display: flex; flex-wrap: wrap; gap: .6rem; align-items: flex-end; background: var(--surface); padding: .7rem; border: 1px solid var(--border); border-radius: .3rem; }
form.filters label { display: flex; flex-direction: column; gap: .15rem; font-size: 13px; color: var(--muted); max-width: 100%; }
form.filters label.search { flex: 1 1 22rem; }
form.inline { display: inline-flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
input, select { font: inherit; font-size: 14px; padding: .3rem .4rem; border: 1px solid var(--muted); border-radius: .25rem; background: var(--surface); color: var(--text); max-width: 100%; min-width: 0; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0; }
.count { font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .25rem 1rem; background: var(--surface); padding: .8rem; border: 1px solid var(--border); border-radius: .3rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; min-width: 0; }
pre { background: var(--surface); color: var(--text); border: 1px solid var(--border); padding: .7rem; overflow: auto; max-width: 100%; max-height: 28rem; margin: .4rem 0; white-space: pre; overflow-wrap: normal; }
details { margin: .3rem 0; max-width: 100%; }
summary { cursor: pointer; color: var(--link); }
.cards { display: grid; gap: .8rem; list-style: none; padding: 0; margin: 0; }
.card { background: var(--surface); border: 1px solid var(--border); border-radius: .4rem; padding: .8rem; min-width: 0; }
.card h3 { margin-top: 0; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); gap: .8rem; }
.stats table { font-size: 14px; }
.big { font-size: 1.6rem; font-weight: 700; }
ol.timeline { list-style: none; margin: 0; padding: 0; border-left: 3px solid var(--border); }
ol.timeline > li { position: relative; margin: 0 0 .8rem .9rem; padding: .6rem .8rem; background: var(--surface); border: 1px solid var(--border); border-radius: .3rem; min-width: 0; }
ol.timeline > li::before { content: ""; position: absolute; left: -1.45rem; top: .9rem; width: .7rem; height: .7rem; border-radius: 50%; background: var(--bar); }
.times { color: var(--muted); font-size: 13px; }
.chart { width: 100%; max-width: 60rem; height: auto; display: block; background: var(--surface); border: 1px solid var(--border); border-radius: .3rem; }
.chart .bar { fill: var(--bar); }
.chart .axis { stroke: var(--grid); stroke-width: 1; }
.chart text { fill: var(--muted); font-size: 11px; font-family: system-ui, sans-serif; }
.live-controls { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: 0 0 .8rem; }
tr.fresh, li.fresh { animation: fresh 2s ease-out; }
@keyframes fresh { from { background: var(--info-bg); } to { background: transparent; } }
@media (prefers-reduced-motion: reduce) { tr.fresh, li.fresh { animation: none; } }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 700px) {
  main { padding: .8rem .7rem 2rem; }
  .table-wrap { overflow-x: visible; }
  table, thead, tbody, tr, th, td, caption { display: block; width: 100%; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  tr { border: 1px solid var(--border); border-radius: .35rem; margin: 0 0 .6rem; padding: .3rem .2rem; background: var(--surface); }
  td { border: 0; padding: .2rem .5rem; display: grid; grid-template-columns: 8.5rem minmax(0, 1fr); gap: .5rem; }
  td::before { content: attr(data-label); color: var(--muted); font-size: 13px; }
  td > * { justify-self: start; max-width: 100%; }
  tr.empty-row td { display: block; }
  tr.empty-row td::before { content: none; }
  td.num { text-align: left; }
  td .error { min-width: 0; }
  .id > a, .id > span { max-width: 12ch; }
  .id.wide > a, .id.wide > span { max-width: 20ch; }
  dl.facts { grid-template-columns: minmax(0, 1fr); }
  dl.facts dd { margin-bottom: .4rem; }
  form.filters label, form.filters label.search { flex: 1 1 100%; }
  form.filters input, form.filters select { width: 100%; }
}
`;
