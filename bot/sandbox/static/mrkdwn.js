// Slack's mrkdwn to HTML: *bold*, _italic_, ~strike~, `code`, ```blocks```, > quotes,
// <@U…> mentions, <#C…|name> channels, <!subteam^S…>, <!here>, <!date^…> dates, <url|links>
// and :emoji: codes. Everything is HTML-escaped first; only the markup above produces tags.
"use strict";

const Mrkdwn = (() => {
  const EMOJI = {
    white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", no_entry: "⛔",
    no_bell: "🔕", bell: "🔔", red_circle: "🔴", large_green_circle: "🟢",
    large_yellow_circle: "🟡", large_orange_circle: "🟠", large_blue_circle: "🔵",
    white_circle: "⚪", black_circle: "⚫", rotating_light: "🚨", repeat: "🔁",
    arrows_counterclockwise: "🔄", information_source: "ℹ️", hourglass: "⌛",
    hourglass_flowing_sand: "⏳", rocket: "🚀", leftwards_arrow_with_hook: "↩️",
    heavy_multiplication_x: "✖️", heavy_minus_sign: "➖", heavy_plus_sign: "➕", eyes: "👀",
    bar_chart: "📊", chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉",
    point_right: "👉", memo: "📝", memory: "🧠", calendar: "📆", date: "📅", clock3: "🕒",
    stopwatch: "⏱️", tada: "🎉", thumbsup: "👍", "+1": "👍", thumbsdown: "👎", "-1": "👎",
    wave: "👋", fire: "🔥", zap: "⚡", robot_face: "🤖", gear: "⚙️", lock: "🔒", key: "🔑",
    mag: "🔍", package: "📦", recycle: "♻️", sparkles: "✨", bulb: "💡", pushpin: "📌",
    link: "🔗", test_tube: "🧪", dart: "🎯", traffic_light: "🚦", construction: "🚧",
    stop_sign: "🛑", arrow_right: "➡️", arrow_up: "⬆️", arrow_down: "⬇️", speech_balloon: "💬",
    large_blue_diamond: "🔷", small_orange_diamond: "🔸", white_large_square: "⬜",
    green_heart: "💚", broken_heart: "💔", question: "❓", exclamation: "❗", ok: "🆗",
    new: "🆕", pause_button: "⏸️", arrow_forward: "▶️", checkered_flag: "🏁", seedling: "🌱",
  };

  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];
  const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  // Slack escapes &, < and > in message text; undo that before escaping for HTML.
  function unslack(text) {
    return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function emoji(text) {
    return text.replace(/:([a-z0-9_+\-]+):/g, (whole, name) =>
      EMOJI[name] ? `<span class="emoji" title=":${name}:">${EMOJI[name]}</span>` : whole);
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function dayName(date) {
    const today = new Date();
    const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    const diff = Math.round((start(today) - start(date)) / 86400000);
    if (diff === 0) return "Today";
    if (diff === 1) return "Yesterday";
    if (diff === -1) return "Tomorrow";
    return null;
  }

  function ago(date) {
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    const future = seconds < 0;
    const s = Math.abs(seconds);
    const [n, unit] = s < 60 ? [s, "second"] : s < 3600 ? [Math.round(s / 60), "minute"]
      : s < 86400 ? [Math.round(s / 3600), "hour"] : [Math.round(s / 86400), "day"];
    const text = `${n} ${unit}${n === 1 ? "" : "s"}`;
    return future ? `in ${text}` : `${text} ago`;
  }

  // <!date^1392734382^{date_short_pretty} at {time}|fallback> in the reader's time zone.
  function formatDate(seconds, format) {
    const d = new Date(seconds * 1000);
    const shortDate = `${MONTHS[d.getMonth()].slice(0, 3)} ${d.getDate()}, ${d.getFullYear()}`;
    const longDate = `${DAYS[d.getDay()]}, ${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}`;
    const pretty = dayName(d);
    const tokens = {
      date_num: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
      date: `${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}`,
      date_short: shortDate,
      date_long: longDate,
      date_pretty: pretty || `${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}`,
      date_short_pretty: pretty || shortDate,
      date_long_pretty: pretty || longDate,
      time: `${pad(d.getHours())}:${pad(d.getMinutes())}`,
      time_secs: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`,
      ago: ago(d),
    };
    return format.replace(/\{(\w+)\}/g, (whole, name) => tokens[name] ?? whole);
  }

  // One <...> token: returns HTML.
  function token(inner, ctx) {
    const [target, label] = splitLabel(inner);
    if (target.startsWith("@")) {
      const id = target.slice(1);
      return `<span class="mention" data-user="${escapeHtml(id)}">@${escapeHtml(label || ctx.userName(id))}</span>`;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      return `<span class="mention channel-mention" data-channel="${escapeHtml(id)}">#${escapeHtml(label || ctx.channelName(id))}</span>`;
    }
    if (target.startsWith("!")) {
      const parts = target.slice(1).split("^");
      if (parts[0] === "date" && parts.length >= 3) {
        const text = formatDate(Number(parts[1]), parts[2]);
        return `<time class="date" title="${escapeHtml(label || "")}">${escapeHtml(text)}</time>`;
      }
      if (parts[0] === "subteam") {
        return `<span class="mention">${escapeHtml(label || "@" + ctx.groupHandle(parts[1]))}</span>`;
      }
      if (["here", "channel", "everyone"].includes(parts[0])) {
        return `<span class="mention mention-broadcast">@${parts[0]}</span>`;
      }
      return escapeHtml(label || target);
    }
    const href = ctx.localUrl ? ctx.localUrl(target) : target;
    const safe = /^(https?:|mailto:|\/)/i.test(href) ? href : "#";
    return `<a href="${escapeHtml(safe)}" target="_blank" rel="noopener">${escapeHtml(label || target)}</a>`;
  }

  function splitLabel(inner) {
    const bar = inner.indexOf("|");
    return bar < 0 ? [inner, ""] : [inner.slice(0, bar), unslack(inner.slice(bar + 1))];
  }

  // Inline formatting of a run of text without code: escapes, tokens, *bold*, _italic_, ~strike~.
  function inline(text, ctx) {
    const pieces = [];
    let last = 0;
    const tokenRe = /<([^<>\n]+)>/g;
    let m;
    while ((m = tokenRe.exec(text)) !== null) {
      pieces.push(styled(escapeHtml(unslack(text.slice(last, m.index)))));
      pieces.push(token(unslack(m[1]), ctx));
      last = m.index + m[0].length;
    }
    pieces.push(styled(escapeHtml(unslack(text.slice(last)))));
    return pieces.join("");
  }

  function styled(html) {
    return emoji(html)
      .replace(/(^|[\s(>"'.,;:!?\-])\*(?!\s)([^*\n]+?)\*(?=$|[\s)<"'.,;:!?\-])/g, "$1<b>$2</b>")
      .replace(/(^|[\s(>"'.,;:!?\-])_(?!\s)([^_\n]+?)_(?=$|[\s)<"'.,;:!?\-])/g, "$1<i>$2</i>")
      .replace(/(^|[\s(>"'.,;:!?\-])~(?!\s)([^~\n]+?)~(?=$|[\s)<"'.,;:!?\-])/g, "$1<s>$2</s>");
  }

  // A paragraph without ``` blocks: inline code spans, quotes, line breaks.
  function paragraph(text, ctx) {
    const lines = text.split("\n");
    const out = [];
    let quote = [];
    const flush = () => {
      if (quote.length) out.push(`<blockquote>${quote.join("<br>")}</blockquote>`);
      quote = [];
    };
    for (const line of lines) {
      const rendered = codeSpans(line.replace(/^(&gt;|>)\s?/, ""), ctx);
      if (/^(&gt;|>)/.test(line)) {
        quote.push(rendered);
      } else {
        flush();
        out.push(rendered + "<br>");
      }
    }
    flush();
    return out.join("").replace(/<br>$/, "");
  }

  // Code spans are taken out first (nothing inside them formats), then the line is formatted
  // as a whole, so *`code`* is bold code as in Slack, and the spans are put back.
  function codeSpans(line, ctx) {
    const codes = [];
    const masked = line.replace(/`([^`\n]+)`/g, (whole, inner) => {
      codes.push(`<code>${escapeHtml(unslack(inner))}</code>`);
      return `\u0000${codes.length - 1}\u0000`;
    });
    return inline(masked, ctx).replace(/\u0000(\d+)\u0000/g, (whole, i) => codes[Number(i)]);
  }

  function render(text, ctx) {
    if (!text) return "";
    const parts = String(text).split(/```/);
    return parts.map((part, i) => {
      if (i % 2 === 1) return `<pre>${escapeHtml(unslack(part.replace(/^\n/, "")))}</pre>`;
      return paragraph(part, ctx);
    }).join("");
  }

  function plain(text, withEmoji = true) {
    const html = escapeHtml(text || "");
    return withEmoji ? emoji(html) : html;
  }

  return { render, plain, escapeHtml, formatDate, emoji };
})();

if (typeof module !== "undefined") module.exports = Mrkdwn;
