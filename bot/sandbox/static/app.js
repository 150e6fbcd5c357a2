// The sandbox page: reads the workspace from /sandbox/api/state, re-reads it on every
// server-sent "change" event, and sends what the person does to /sandbox/api/*, where the
// sandbox signs it like Slack and delivers it to the bot.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const { el } = Blocks;
  const PALETTE = ["#e8912d", "#2bac76", "#1d9bd1", "#9c4dcc", "#e01e5a", "#3f7fbf", "#c27c0e", "#4a9a8c"];
  const DEFAULT_SUGGESTIONS = [
    "/mlops help",
    "/mlops status churn-model",
    "/mlops models",
    "/mlops drift churn-model",
    "/mlops promote churn-model --to prod",
  ];

  const params = new URLSearchParams(location.search);
  const permalink = location.pathname.match(/^\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})/);
  const ui = {
    me: params.get("as") || localStorage.getItem("sandbox.user") || "U0ALICE",
    view: params.get("view") === "home" ? "app" : "channel",
    tab: "home",
    channel: permalink ? permalink[1] : params.get("channel") || localStorage.getItem("sandbox.channel") || "C0MLOPS",
    thread: params.get("thread") || null,
    highlight: permalink ? `${permalink[2]}.${permalink[3]}` : null,
    data: null,
    seen: null,
    hashes: new Map(),
    changed: new Map(),
    renderedKey: null,
    modalKey: null,
    history: JSON.parse(localStorage.getItem("sandbox.history") || "[]"),
    historyIndex: -1,
    notices: [],
    fetching: false,
    dirty: false,
  };

  // ------------------------------------------------------------------ helpers

  function user(id) {
    return (ui.data?.users || []).find((u) => u.id === id);
  }

  function userName(id) {
    const found = user(id);
    if (found) return found.is_bot ? found.name : found.name;
    if (id === "USLACKBOT") return "Slackbot";
    return id;
  }

  function channelName(id) {
    const found = (ui.data?.channels || []).find((c) => c.id === id);
    return found ? found.name : id;
  }

  function groupHandle(id) {
    const found = (ui.data?.groups || []).find((g) => g.id === id);
    return found ? found.handle : id;
  }

  function localUrl(url) {
    const root = ui.data?.root_url;
    if (root && typeof url === "string" && url.startsWith(root)) return "/" + url.slice(root.length);
    return url;
  }

  function colorOf(id) {
    let hash = 0;
    for (const ch of id || "") hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return PALETTE[hash % PALETTE.length];
  }

  function avatar(id, small) {
    const person = user(id);
    const node = el("div", `avatar${small ? " small" : ""}${person?.is_bot ? " bot" : ""}`);
    if (person?.is_bot) {
      node.innerHTML = '<svg viewBox="0 0 24 24" width="60%" height="60%" aria-hidden="true"><path fill="currentColor" d="M11 2h2v2.07A7 7 0 0 1 19 11v6a3 3 0 0 1-3 3H8a3 3 0 0 1-3-3v-6a7 7 0 0 1 6-6.93V2Zm-2 10a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3Zm6 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3ZM2 12h2v4H2v-4Zm18 0h2v4h-2v-4Z"/></svg>';
    } else if (id === "USLACKBOT") {
      node.textContent = "S";
      node.style.background = "#4a154b";
    } else {
      node.textContent = (person?.real_name || person?.name || "?").slice(0, 1).toUpperCase();
      node.style.background = colorOf(id);
    }
    return node;
  }

  function timeOf(ts) {
    const d = new Date(Number(ts) * 1000);
    return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  }

  function dayOf(ts) {
    const d = new Date(Number(ts) * 1000);
    return Mrkdwn.formatDate(Number(ts), "{date_long_pretty}") || d.toDateString();
  }

  function renderCtx(extra) {
    return { userName, channelName, groupHandle, localUrl, ...extra };
  }

  function toast(message, kind = "error") {
    const node = el("div", `toast ${kind}`, Mrkdwn.escapeHtml(message));
    $("toasts").append(node);
    setTimeout(() => node.classList.add("leaving"), 4500);
    setTimeout(() => node.remove(), 5000);
  }

  async function api(path, body) {
    const response = await fetch(path, {
      method: body ? "POST" : "GET",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    let data = {};
    try { data = await response.json(); } catch (_) { data = { ok: false, error: `HTTP ${response.status}` }; }
    return data;
  }

  const DELIVERY_ERRORS = {
    operation_timeout: "mlops-bot did not answer within 3 seconds (operation_timeout)",
    dispatch_failed: "could not reach mlops-bot (dispatch_failed)",
  };

  function deliveryProblem(result) {
    if (result.ok) return null;
    if (result.error && DELIVERY_ERRORS[result.error]) return DELIVERY_ERRORS[result.error];
    if (result.error) return typeof result.error === "string" ? result.error : JSON.stringify(result.error);
    return "the request failed";
  }

  // ------------------------------------------------------------------ loading

  async function refresh() {
    if (ui.fetching) { ui.dirty = true; return; }
    ui.fetching = true;
    try {
      do {
        ui.dirty = false;
        const query = new URLSearchParams({ user: ui.me, channel: currentChannelId() || "" });
        if (ui.thread && ui.view === "channel") query.set("thread", ui.thread);
        const data = await api(`/sandbox/api/state?${query}`);
        if (data.ok === false) { toast(data.error || "could not load the workspace"); break; }
        ui.data = data;
        render();
      } while (ui.dirty);
    } catch (err) {
      setBotStatus(false, "sandbox unreachable");
    } finally {
      ui.fetching = false;
    }
  }

  function currentChannelId() {
    if (ui.view === "app") return ui.tab === "messages" ? `D${ui.me.slice(1)}` : null;
    return ui.channel;
  }

  function listen() {
    let source;
    const connect = () => {
      source = new EventSource("/sandbox/api/events");
      source.addEventListener("change", () => refresh());
      source.onerror = () => { source.close(); setTimeout(connect, 1500); };
    };
    connect();
    setInterval(refresh, 15000); // a safety net if events are blocked on the way
  }

  async function pollBot() {
    try {
      const status = await api("/sandbox/api/status");
      setBotStatus(status.bot_up, status.bot_up ? "mlops-bot online" : "mlops-bot not answering");
    } catch (_) {
      setBotStatus(false, "sandbox unreachable");
    }
  }

  function setBotStatus(up, label) {
    const node = $("bot-status");
    node.classList.toggle("up", !!up);
    node.classList.toggle("down", !up);
    node.querySelector(".label").textContent = label;
  }

  // ------------------------------------------------------------------ rendering

  function render() {
    const data = ui.data;
    if (!data) return;
    if (ui.seen === null) {
      ui.seen = Object.fromEntries(data.channels.map((c) => [c.id, c.count]));
    }
    const open = currentChannelId();
    if (open) ui.seen[open] = (data.channels.find((c) => c.id === open) || {}).count || 0;
    $("ws-name").textContent = data.team.name;
    renderNav();
    renderUsers();
    renderHeader();
    if (ui.view === "app" && ui.tab === "home") {
      $("messages").classList.add("hidden");
      $("home-view").classList.remove("hidden");
      renderHome();
    } else {
      $("home-view").classList.add("hidden");
      $("messages").classList.remove("hidden");
      renderChannel();
    }
    renderComposer();
    renderThread();
    renderModal();
  }

  function navItem(label, { active, unread, onClick, data, icon }) {
    const node = el("button", `nav-item${active ? " active" : ""}${unread ? " unread" : ""}`);
    node.type = "button";
    node.append(el("span", "nav-icon", icon));
    node.append(el("span", "nav-label", Mrkdwn.escapeHtml(label)));
    if (unread) node.append(el("span", "badge", String(unread)));
    Object.assign(node.dataset, data || {});
    node.addEventListener("click", onClick);
    return node;
  }

  function renderNav() {
    const nav = $("nav");
    nav.replaceChildren();
    const data = ui.data;
    nav.append(el("div", "section-title", "Apps"));
    const dm = data.channels.find((c) => c.is_im && c.im_user === ui.me);
    const dmUnread = dm ? Math.max(0, dm.count - (ui.seen[dm.id] || 0)) : 0;
    nav.append(navItem(data.bot.name, {
      active: ui.view === "app", unread: dmUnread, icon: "🤖", data: { nav: "app" },
      onClick: () => openApp("home"),
    }));
    nav.append(el("div", "section-title", "Channels"));
    for (const channel of data.channels.filter((c) => !c.is_im)) {
      const unread = Math.max(0, channel.count - (ui.seen[channel.id] || 0));
      nav.append(navItem(channel.name, {
        active: ui.view === "channel" && ui.channel === channel.id,
        unread: ui.view === "channel" && ui.channel === channel.id ? 0 : unread,
        icon: channel.is_private ? "🔒" : "#",
        data: { channel: channel.id },
        onClick: () => openChannel(channel.id),
      }));
    }
  }

  function renderUsers() {
    const box = $("user-switcher");
    box.replaceChildren();
    for (const person of ui.data.users.filter((u) => !u.is_bot)) {
      const node = el("button", `user-choice${person.id === ui.me ? " active" : ""}`);
      node.type = "button";
      node.dataset.user = person.id;
      node.setAttribute("role", "radio");
      node.setAttribute("aria-checked", String(person.id === ui.me));
      node.append(avatar(person.id, true));
      const who = el("span", "user-who");
      who.append(el("span", "user-name", Mrkdwn.escapeHtml(person.real_name)));
      const role = person.approver ? "approver" : person.title.includes("requests") ? "requester" : "member";
      who.append(el("span", `user-role role-${role}`, role));
      node.append(who);
      node.title = person.title;
      node.addEventListener("click", () => switchUser(person.id));
      box.append(node);
    }
  }

  function renderHeader() {
    const data = ui.data;
    const tabs = $("app-tabs");
    if (ui.view === "app") {
      $("channel-name").innerHTML = `<span class="app-name">${Mrkdwn.escapeHtml(data.bot.name)}</span> <span class="app-badge">APP</span>`;
      $("channel-topic").textContent = "Slack ChatOps for MLOps";
      tabs.classList.remove("hidden");
      for (const tab of tabs.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.tab === ui.tab);
    } else {
      const channel = data.channels.find((c) => c.id === ui.channel) || {};
      $("channel-name").textContent = `#${channel.name || ui.channel}`;
      const notMember = channel.bot_member === false ? " · mlops-bot is not in this channel" : "";
      $("channel-topic").textContent = (channel.topic || "") + notMember;
      tabs.classList.add("hidden");
    }
  }

  function renderComposer() {
    const input = $("composer-input");
    const suggestions = $("suggestions");
    const area = $("composer-area");
    if (ui.view === "app") {
      area.classList.add("hidden");
      return;
    }
    area.classList.remove("hidden");
    input.placeholder = `Message #${channelName(ui.channel)} — try ${ui.data.command} status churn-model`;
    const wanted = (ui.data.suggestions && ui.data.suggestions.length ? ui.data.suggestions : DEFAULT_SUGGESTIONS);
    const key = wanted.join("|");
    if (suggestions.dataset.key === key) return;
    suggestions.dataset.key = key;
    suggestions.replaceChildren(el("span", "suggestions-label", "Try"));
    for (const line of wanted) {
      const chip = el("button", "chip", Mrkdwn.escapeHtml(line));
      chip.type = "button";
      chip.addEventListener("click", () => {
        input.value = line;
        autosize(input);
        input.focus();
      });
      suggestions.append(chip);
    }
  }

  function messageKey(m) {
    return JSON.stringify([m.text, m.blocks, m.files && m.files.map((f) => f.id), m.edited, m.reply_count]);
  }

  function renderChannel() {
    const box = $("messages");
    const channelId = currentChannelId();
    const key = `${ui.me}:${channelId}`;
    const firstTime = ui.renderedKey !== key;
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
    const previousTop = box.scrollTop;
    const items = [
      ...ui.data.messages,
      ...ui.data.ephemerals,
      ...ui.notices.filter((n) => n.channel === channelId),
    ].sort((a, b) => Number(a.ts) - Number(b.ts));
    box.replaceChildren();
    if (!channelId || !ui.data.channel) {
      box.append(emptyState("No messages yet", "The bot writes to you here when it has something for you alone."));
    } else if (!items.length) {
      box.append(emptyState(`This is the very beginning of #${channelName(channelId)}`,
        ui.data.channels.find((c) => c.id === channelId)?.topic || ""));
    } else {
      box.append(el("div", "channel-intro", `<h2>#${Mrkdwn.escapeHtml(channelName(channelId))}</h2><p>${Mrkdwn.escapeHtml(ui.data.channels.find((c) => c.id === channelId)?.topic || "")}</p>`));
    }
    let previous = null;
    for (const message of items) {
      const day = dayOf(message.ts);
      if (!previous || dayOf(previous.ts) !== day) box.append(el("div", "day-divider", `<span>${Mrkdwn.escapeHtml(day)}</span>`));
      box.append(messageNode(message, { channel: channelId, previous, firstTime, inThread: false }));
      previous = message;
    }
    ui.renderedKey = key;
    if (ui.highlight) {
      const target = box.querySelector(`.msg[data-ts="${ui.highlight}"]`);
      if (target) {
        target.classList.add("highlight");
        target.scrollIntoView({ block: "center" });
        ui.highlight = null;
        return;
      }
    }
    if (firstTime || nearBottom) box.scrollTop = box.scrollHeight;
    else box.scrollTop = previousTop;
  }

  function emptyState(title, detail) {
    return el("div", "empty", `<div class="empty-title">${Mrkdwn.escapeHtml(title)}</div><div class="empty-detail">${Mrkdwn.escapeHtml(detail)}</div>`);
  }

  function messageNode(message, { channel, previous, firstTime, inThread }) {
    const author = message.user || "USLACKBOT";
    const node = el("div", "msg");
    node.dataset.ts = message.ts;
    node.dataset.user = author;
    if (message.is_ephemeral) node.classList.add("ephemeral");
    if (message.local) node.classList.add("ephemeral", "local");
    const continued = previous && !previous.is_ephemeral && !message.is_ephemeral && !previous.local
      && previous.user === author && Number(message.ts) - Number(previous.ts) < 300
      && !previous.reply_count && dayOf(previous.ts) === dayOf(message.ts);
    if (continued) node.classList.add("continued");
    const hashKey = `${channel}:${message.ts}`;
    const hash = messageKey(message);
    const before = ui.hashes.get(hashKey);
    if (before !== undefined && before !== hash) ui.changed.set(hashKey, ["flash", Date.now()]);
    if (before === undefined && !firstTime) ui.changed.set(hashKey, ["appear", Date.now()]);
    ui.hashes.set(hashKey, hash);
    // The list is redrawn on every change: a running animation carries on where it was.
    const [effect, since] = ui.changed.get(hashKey) || [];
    const elapsed = Date.now() - (since || 0);
    if (effect && elapsed < (effect === "flash" ? 1600 : 500)) {
      node.classList.add(effect);
      node.style.animationDelay = `-${elapsed}ms`;
    }

    const gutter = el("div", "msg-gutter");
    if (continued) gutter.append(el("span", "msg-hover-time", timeOf(message.ts)));
    else gutter.append(avatar(author));
    node.append(gutter);

    const body = el("div", "msg-body");
    if (!continued) {
      const meta = el("div", "msg-meta");
      meta.append(el("span", "msg-author", Mrkdwn.escapeHtml(userName(author))));
      if (user(author)?.is_bot) meta.append(el("span", "app-badge", "APP"));
      const time = el("time", "msg-time", timeOf(message.ts));
      time.title = new Date(Number(message.ts) * 1000).toLocaleString();
      meta.append(time);
      body.append(meta);
    }
    if (message.is_ephemeral || message.local) {
      body.append(el("div", "ephemeral-note", '<span class="eye">👁</span> Only visible to you'));
    }
    const content = el("div", "msg-content");
    const ctx = renderCtx({
      onAction: (element, blockId, button) => pressMessageButton(message, channel, element, button),
    });
    if (message.blocks && message.blocks.length) {
      content.append(Blocks.render(message.blocks, ctx));
    } else if (message.text) {
      content.append(el("div", "msg-text", Mrkdwn.render(message.text, ctx)));
    }
    if (message.edited) content.append(el("span", "edited", "(edited)"));
    body.append(content);
    if (message.files && message.files.length) body.append(filesNode(message.files));
    if (message.reply_count && !inThread) body.append(threadSummary(message, channel));
    if (message.is_ephemeral) {
      const dismiss = el("button", "link-button", "Dismiss message");
      dismiss.type = "button";
      dismiss.addEventListener("click", async () => {
        const result = await api("/sandbox/api/dismiss", { user: ui.me, ts: message.ts });
        if (!result.ok) toast(deliveryProblem(result));
      });
      body.append(dismiss);
    }
    node.append(body);
    return node;
  }

  function filesNode(files) {
    const box = el("div", "files");
    for (const file of files) {
      const url = localUrl(file.url_private);
      if ((file.mimetype || "").startsWith("image/")) {
        const figure = el("figure", "file-image");
        figure.append(el("figcaption", "file-title", `${Mrkdwn.escapeHtml(file.title || file.name)} <span class="file-meta">${Mrkdwn.escapeHtml(file.pretty_type || "")}</span>`));
        const link = el("a");
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener";
        const img = el("img");
        img.src = url;
        img.alt = file.alt_txt || file.title || file.name;
        img.loading = "lazy";
        if (file.original_w && file.original_h) {
          img.width = Math.min(file.original_w, 480);
          img.height = Math.round(img.width * file.original_h / file.original_w);
        }
        link.append(img);
        figure.append(link);
        box.append(figure);
      } else {
        const chip = el("a", "file-chip", `📄 ${Mrkdwn.escapeHtml(file.title || file.name)} <span class="file-meta">${Mrkdwn.escapeHtml(file.pretty_type || "")}</span>`);
        chip.href = url;
        chip.target = "_blank";
        box.append(chip);
      }
    }
    return box;
  }

  function threadSummary(message, channel) {
    const node = el("button", "thread-summary");
    node.type = "button";
    node.dataset.threadTs = message.ts;
    const faces = el("span", "thread-faces");
    for (const id of message.reply_users || []) faces.append(avatar(id, true));
    node.append(faces);
    const count = message.reply_count;
    node.append(el("span", "thread-count", `${count} ${count === 1 ? "reply" : "replies"}`));
    if (message.latest_reply) node.append(el("span", "thread-last", `Last reply ${timeOf(message.latest_reply)}`));
    node.append(el("span", "thread-view", "View thread"));
    node.addEventListener("click", () => openThread(message.ts, channel));
    return node;
  }

  function renderThread() {
    const pane = $("thread-pane");
    const thread = ui.view === "channel" ? ui.data.thread : null;
    if (!ui.thread || !thread) {
      pane.classList.add("hidden");
      return;
    }
    pane.classList.remove("hidden");
    $("thread-sub").textContent = `#${channelName(ui.channel)}`;
    const box = $("thread-messages");
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
    const key = `${ui.me}:${ui.channel}:${ui.thread}`;
    const firstTime = box.dataset.key !== key;
    box.replaceChildren();
    const [parent, ...replies] = thread.messages;
    if (parent) box.append(messageNode(parent, { channel: ui.channel, previous: null, firstTime, inThread: true }));
    if (replies.length) box.append(el("div", "reply-divider", `<span>${replies.length} ${replies.length === 1 ? "reply" : "replies"}</span>`));
    let previous = null;
    const items = [...replies, ...thread.ephemerals].sort((a, b) => Number(a.ts) - Number(b.ts));
    for (const reply of items) {
      box.append(messageNode(reply, { channel: ui.channel, previous, firstTime, inThread: true }));
      previous = reply;
    }
    box.dataset.key = key;
    if (firstTime || nearBottom) box.scrollTop = box.scrollHeight;
  }

  function renderHome() {
    const box = $("home-view");
    const view = ui.data.home;
    const key = JSON.stringify(view?.blocks || null) + ui.me;
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.replaceChildren();
    if (!view) {
      box.append(emptyState("Opening the Home tab…", "The sandbox told mlops-bot you opened its Home tab (app_home_opened); it publishes the view with views.publish."));
      return;
    }
    const card = el("div", "home-card");
    card.append(Blocks.render(view.blocks, renderCtx({
      onAction: (element, blockId, button) => pressViewButton(view, element, button),
    })));
    box.append(card);
  }

  // ------------------------------------------------------------------ modals and dialogs

  function renderModal() {
    const overlay = $("overlay");
    const modal = (ui.data.modals || []).slice(-1)[0];
    if (overlay.dataset.kind === "confirm") return;
    if (!modal) {
      if (overlay.dataset.kind === "modal") {
        overlay.classList.add("hidden");
        overlay.replaceChildren();
        delete overlay.dataset.kind;
      }
      ui.modalKey = null;
      return;
    }
    const key = `${modal.id}:${modal.hash}`;
    if (ui.modalKey === key) return;
    ui.modalKey = key;
    overlay.dataset.kind = "modal";
    overlay.classList.remove("hidden");
    overlay.replaceChildren(modalNode(modal));
    const first = overlay.querySelector("textarea, input, select");
    if (first) first.focus();
  }

  function modalNode(view) {
    const inputs = [];
    const dialog = el("div", "dialog modal");
    dialog.setAttribute("role", "dialog");
    dialog.dataset.viewId = view.id;
    const head = el("header", "dialog-head");
    head.append(el("div", "dialog-app", avatar(ui.data.bot.id, true).outerHTML));
    head.append(el("h2", "dialog-title", Mrkdwn.plain(view.title?.text || "")));
    const close = el("button", "icon-button", "✕");
    close.type = "button";
    close.title = "Close";
    close.addEventListener("click", () => closeModal(view));
    head.append(close);
    dialog.append(head);
    const body = el("div", "dialog-body");
    body.append(Blocks.render(view.blocks, renderCtx({
      inputs,
      onAction: (element, blockId, button) => pressViewButton(view, element, button),
    })));
    dialog.append(body);
    const foot = el("footer", "dialog-foot");
    const cancel = el("button", "bk-button", Mrkdwn.plain(view.close?.text || "Cancel"));
    cancel.type = "button";
    cancel.dataset.role = "close";
    cancel.addEventListener("click", () => closeModal(view));
    foot.append(cancel);
    if (view.submit) {
      const submit = el("button", "bk-button bk-primary", Mrkdwn.plain(view.submit.text));
      submit.type = "button";
      submit.dataset.role = "submit";
      submit.addEventListener("click", () => submitModal(view, inputs, dialog, submit));
      foot.append(submit);
    }
    dialog.append(foot);
    return dialog;
  }

  function showError(dialog, blockId, message) {
    const box = dialog.querySelector(`.bk-input[data-block-id="${CSS.escape(blockId)}"]`);
    if (!box) { toast(message); return; }
    box.classList.toggle("invalid", !!message);
    box.querySelector(".bk-error").textContent = message || "";
  }

  async function submitModal(view, inputs, dialog, submit) {
    const values = {};
    let valid = true;
    for (const input of inputs) {
      const value = input.read();
      const min = Number(input.element.min_length || 0);
      const text = value.value ?? (value.selected_option ? "x" : "");
      let problem = "";
      if (!input.block.optional && !text) problem = "Please fill out this field.";
      else if (value.value !== undefined && value.value.length < min) problem = `Must have at least ${min} characters`;
      showError(dialog, input.block.block_id, problem);
      if (problem) valid = false;
      values[input.block.block_id] = { ...(values[input.block.block_id] || {}), [input.element.action_id]: value };
    }
    if (!valid) return;
    submit.disabled = true;
    submit.classList.add("busy");
    try {
      const result = await api("/sandbox/api/submit", { user: ui.me, view_id: view.id, values });
      const problem = deliveryProblem(result);
      if (problem) { toast(problem); return; }
      for (const [blockId, message] of Object.entries(result.errors || {})) showError(dialog, blockId, message);
    } finally {
      submit.disabled = false;
      submit.classList.remove("busy");
      refresh();
    }
  }

  async function closeModal(view) {
    const result = await api("/sandbox/api/close", { user: ui.me, view_id: view.id });
    if (result.ok === false) toast(deliveryProblem(result));
    refresh();
  }

  function confirmDialog(confirm) {
    return new Promise((resolve) => {
      const overlay = $("overlay");
      const previous = [...overlay.childNodes];
      const previousKind = overlay.dataset.kind;
      const wasHidden = overlay.classList.contains("hidden");
      const dialog = el("div", "dialog confirm");
      dialog.setAttribute("role", "alertdialog");
      dialog.append(el("header", "dialog-head", `<h2 class="dialog-title">${Mrkdwn.plain(confirm.title?.text || "Are you sure?")}</h2>`));
      dialog.append(el("div", "dialog-body", Blocks.text(confirm.text, renderCtx())));
      const foot = el("footer", "dialog-foot");
      const finish = (answer) => {
        overlay.replaceChildren(...previous);
        if (previousKind) overlay.dataset.kind = previousKind; else delete overlay.dataset.kind;
        overlay.classList.toggle("hidden", wasHidden);
        document.removeEventListener("keydown", onKey);
        resolve(answer);
      };
      const onKey = (event) => { if (event.key === "Escape") finish(false); };
      const deny = el("button", "bk-button", Mrkdwn.plain(confirm.deny?.text || "Cancel"));
      deny.type = "button";
      deny.dataset.role = "deny";
      deny.addEventListener("click", () => finish(false));
      const yes = el("button", `bk-button ${confirm.style === "danger" ? "bk-danger" : "bk-primary"}`, Mrkdwn.plain(confirm.confirm?.text || "Yes"));
      yes.type = "button";
      yes.dataset.role = "confirm";
      yes.addEventListener("click", () => finish(true));
      foot.append(deny, yes);
      dialog.append(foot);
      overlay.dataset.kind = "confirm";
      overlay.classList.remove("hidden");
      overlay.replaceChildren(dialog);
      document.addEventListener("keydown", onKey);
      yes.focus();
    });
  }

  // ------------------------------------------------------------------ acting

  async function press(element, button, body) {
    if (element.confirm && !(await confirmDialog(element.confirm))) return;
    button.classList.add("busy");
    button.disabled = true;
    try {
      const result = await api("/sandbox/api/action", { user: ui.me, action_id: element.action_id, value: element.value, ...body });
      const problem = deliveryProblem(result);
      if (problem) toast(problem);
    } finally {
      button.classList.remove("busy");
      button.disabled = false;
    }
  }

  function pressMessageButton(message, channel, element, button) {
    return press(element, button, { channel: message.channel || channel, ts: message.ts });
  }

  function pressViewButton(view, element, button) {
    return press(element, button, { view_id: view.id });
  }

  async function send(text, threadTs) {
    const channel = currentChannelId();
    const trimmed = text.trim();
    if (!trimmed || !channel) return;
    if (trimmed.startsWith("/")) {
      ui.history = [trimmed, ...ui.history.filter((h) => h !== trimmed)].slice(0, 30);
      localStorage.setItem("sandbox.history", JSON.stringify(ui.history));
      const result = await api("/sandbox/api/command", { user: ui.me, channel, text: trimmed });
      const problem = deliveryProblem(result);
      if (problem) {
        const command = trimmed.split(/\s+/)[0];
        ui.notices.push({
          local: true, user: "USLACKBOT", channel, ts: (Date.now() / 1000).toFixed(6),
          text: result.delivered === false && result.error ? `${command} failed with the error "${result.error}"` : problem,
        });
        render();
      }
      return;
    }
    const result = await api("/sandbox/api/message", { user: ui.me, channel, text: trimmed, thread_ts: threadTs });
    if (!result.ok) toast(deliveryProblem(result));
  }

  function autosize(input) {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  function bindComposer(form, input, threadTs) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      input.value = "";
      autosize(input);
      ui.historyIndex = -1;
      send(text, threadTs ? threadTs() : undefined);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === "ArrowUp" && !input.value.includes("\n") && (input.value === "" || ui.historyIndex >= 0)) {
        if (ui.historyIndex + 1 < ui.history.length) {
          ui.historyIndex += 1;
          input.value = ui.history[ui.historyIndex];
          event.preventDefault();
        }
      } else if (event.key === "ArrowDown" && ui.historyIndex >= 0) {
        ui.historyIndex -= 1;
        input.value = ui.historyIndex >= 0 ? ui.history[ui.historyIndex] : "";
        event.preventDefault();
      }
    });
    input.addEventListener("input", () => autosize(input));
  }

  // ------------------------------------------------------------------ navigation

  function remember() {
    localStorage.setItem("sandbox.user", ui.me);
    localStorage.setItem("sandbox.channel", ui.channel);
    const query = new URLSearchParams({ as: user(ui.me)?.name || ui.me });
    if (ui.view === "app") query.set("view", "home"); else query.set("channel", ui.channel);
    if (ui.thread) query.set("thread", ui.thread);
    history.replaceState(null, "", `/?${query}`);
  }

  function openChannel(id) {
    ui.view = "channel";
    ui.channel = id;
    ui.thread = null;
    remember();
    refresh();
  }

  function openThread(ts, channel) {
    if (channel && !channel.startsWith("D")) ui.channel = channel;
    ui.thread = ts;
    remember();
    refresh();
  }

  function openApp(tab) {
    ui.view = "app";
    ui.tab = tab;
    ui.thread = null;
    remember();
    if (tab === "home") {
      $("home-view").dataset.key = "";
      api("/sandbox/api/home", { user: ui.me }).then((result) => {
        const problem = deliveryProblem(result);
        if (problem) toast(problem);
      });
    }
    refresh();
  }

  function switchUser(id) {
    if (id === ui.me) return;
    ui.me = id;
    ui.modalKey = null;
    ui.renderedKey = null;
    ui.notices = [];
    remember();
    if (ui.view === "app" && ui.tab === "home") openApp("home");
    else refresh();
  }

  function resolveMe() {
    // ?as=bob works as well as ?as=U0BOB
    const byName = (ui.data?.users || []).find((u) => u.name === ui.me);
    if (byName) ui.me = byName.id;
  }

  // ------------------------------------------------------------------ start

  async function start() {
    bindComposer($("composer"), $("composer-input"));
    bindComposer($("thread-composer"), $("thread-input"), () => ui.thread);
    $("thread-close").addEventListener("click", () => { ui.thread = null; remember(); refresh(); });
    for (const tab of document.querySelectorAll("#app-tabs .tab")) {
      tab.addEventListener("click", () => openApp(tab.dataset.tab));
    }
    document.addEventListener("click", (event) => {
      // Permalinks to sandbox messages open here, on the message, not in a new tab.
      const link = event.target.closest && event.target.closest('a[href^="/archives/"]');
      const found = link && link.getAttribute("href").match(/^\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})/);
      if (!found) return;
      event.preventDefault();
      ui.highlight = `${found[2]}.${found[3]}`;
      const thread = new URL(link.href).searchParams.get("thread_ts");
      openChannel(found[1]);
      if (thread) openThread(thread, found[1]);
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && ui.thread && $("overlay").classList.contains("hidden")) {
        ui.thread = null;
        remember();
        refresh();
      }
    });
    if (!/^U[A-Z0-9]+$/.test(ui.me)) {
      const data = await api(`/sandbox/api/state?user=U0ALICE`);
      ui.data = data;
      ui.me = (data.users || []).find((u) => u.name === ui.me)?.id || "U0ALICE";
    }
    resolveMe();
    remember();
    if (ui.view === "app") openApp("home"); else await refresh();
    listen();
    pollBot();
    setInterval(pollBot, 5000);
    $("composer-input").focus();
  }

  start();
})();
