/** HTML escaping for text and attribute values: everything shown comes from senders. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** A tagged template that escapes every interpolation unless it is already `Html`. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    const rendered = Array.isArray(v)
      ? v.map((x) => (x instanceof Html ? x.text : escapeHtml(x))).join('')
      : v instanceof Html
        ? v.text
        : escapeHtml(v);
    out += rendered + strings[i + 1]!;
  });
  return new Html(out);
}

export function layout(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · docv-webhooks</title>
<link rel="stylesheet" href="/dashboard/style.css">
</head>
<body>
<header><a href="/dashboard">docv-webhooks</a> <nav><a href="/dashboard">transactions</a> <a href="/dashboard/events">events</a> <a href="/dashboard/deliveries">deliveries</a> <a href="/dashboard/quarantine">quarantine</a></nav></header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`.text;
}

export function table(columns: string[], rows: Html[][]): Html {
  if (rows.length === 0) return html`<p class="empty">nothing here yet</p>`;
  return html`<table><thead><tr>${columns.map((c) => html`<th>${c}</th>`)}</tr></thead><tbody>${rows.map(
    (r) => html`<tr>${r.map((cell) => html`<td>${cell}</td>`)}</tr>`,
  )}</tbody></table>`;
}

export const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: .6rem 1rem; display: flex; gap: 1.5rem; align-items: center; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
nav a { font-weight: 400; margin-right: 1rem; opacity: .85; }
main { padding: 1rem 1.5rem; }
h1 { font-size: 1.3rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e6eb; vertical-align: top; }
th { font-weight: 600; background: #eef0f4; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
.badge { padding: .05rem .4rem; border-radius: .3rem; font-size: 12px; background: #e3e6eb; }
.accept, .delivered { background: #d5f2dc; } .reject, .dead { background: #f8d3d3; } .resubmit, .failed { background: #fbeccb; }
.anomaly { color: #a32020; }
.empty { color: #6b7280; }
.note { background: #fbeccb; padding: .5rem .8rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: #fff; padding: .8rem; }
dt { color: #6b7280; }
form { margin: .5rem 0 1rem; display: flex; gap: .5rem; align-items: end; }
pre { background: #fff; padding: .8rem; overflow: auto; }
`;
