// Block Kit to DOM: header, section (text, fields, accessory), context, divider, image (URL or
// uploaded file), actions (buttons with styles and confirm dialogs), input (modals) and a plain
// fallback for the rest. Interactive elements call ctx.onAction(element, blockId); inputs
// register in ctx.inputs so a modal can collect view.state.values.
"use strict";

const Blocks = (() => {
  function el(tag, className, html) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (html !== undefined) node.innerHTML = html;
    return node;
  }

  function text(obj, ctx) {
    if (!obj) return "";
    if (typeof obj === "string") return Mrkdwn.render(obj, ctx);
    if (obj.type === "mrkdwn") return Mrkdwn.render(obj.text, ctx);
    return Mrkdwn.plain(obj.text, obj.emoji !== false);
  }

  function imageUrl(block, ctx) {
    if (block.image_url) return ctx.localUrl(block.image_url);
    const file = block.slack_file || {};
    if (file.url) return ctx.localUrl(file.url);
    if (file.id) return `/files/${encodeURIComponent(file.id)}/image`;
    return "";
  }

  function button(element, blockId, ctx) {
    const node = el("button", `bk-button ${element.style ? "bk-" + element.style : ""}`.trim());
    node.type = "button";
    node.innerHTML = text(element.text, ctx);
    node.dataset.actionId = element.action_id || "";
    if (element.value !== undefined) node.dataset.value = element.value;
    if (element.accessibility_label) node.setAttribute("aria-label", element.accessibility_label);
    if (!ctx.onAction) {
      node.disabled = true;
      return node;
    }
    node.addEventListener("click", () => {
      if (element.url) window.open(ctx.localUrl(element.url), "_blank", "noopener");
      ctx.onAction(element, blockId, node);
    });
    return node;
  }

  function interactive(element, blockId, ctx) {
    switch (element.type) {
      case "button":
        return button(element, blockId, ctx);
      case "image":
        return image(element, ctx, "bk-accessory-image");
      case "overflow": {
        const select = el("select", "bk-select");
        select.append(new Option("⋯", ""));
        for (const option of element.options || []) {
          select.append(new Option(option.text?.text || option.value, option.value));
        }
        select.addEventListener("change", () => {
          if (select.value && ctx.onAction) ctx.onAction({ ...element, value: select.value }, blockId, select);
        });
        return select;
      }
      case "static_select":
        return staticSelect(element, blockId, ctx);
      default:
        return el("span", "bk-unsupported", Mrkdwn.escapeHtml(`[${element.type}]`));
    }
  }

  function staticSelect(element, blockId, ctx) {
    const select = el("select", "bk-select");
    select.append(new Option(element.placeholder?.text || "Select…", ""));
    const groups = element.option_groups || [{ options: element.options || [] }];
    for (const group of groups) {
      for (const option of group.options || []) {
        select.append(new Option(option.text?.text || option.value, option.value));
      }
    }
    if (element.initial_option) select.value = element.initial_option.value;
    select.addEventListener("change", () => {
      if (ctx.inputs === undefined && ctx.onAction) {
        ctx.onAction({ ...element, selected_option: { value: select.value } }, blockId, select);
      }
    });
    return select;
  }

  function image(block, ctx, className) {
    const url = imageUrl(block, ctx);
    const img = el("img", className || "bk-image");
    img.src = url;
    img.alt = block.alt_text || "";
    img.loading = "lazy";
    return img;
  }

  const RENDER = {
    header(block, ctx) {
      return el("div", "bk-header", text(block.text, ctx));
    },
    divider() {
      return el("hr", "bk-divider");
    },
    section(block, ctx) {
      const node = el("div", "bk-section");
      const body = el("div", "bk-section-body");
      if (block.text) body.append(el("div", "bk-text", text(block.text, ctx)));
      if (block.fields && block.fields.length) {
        const fields = el("div", "bk-fields");
        for (const field of block.fields) fields.append(el("div", "bk-field", text(field, ctx)));
        body.append(fields);
      }
      node.append(body);
      if (block.accessory) {
        const accessory = el("div", "bk-accessory");
        accessory.append(interactive(block.accessory, block.block_id, ctx));
        node.append(accessory);
      }
      return node;
    },
    context(block, ctx) {
      const node = el("div", "bk-context");
      for (const element of block.elements || []) {
        if (element.type === "image") {
          node.append(image(element, ctx, "bk-context-image"));
        } else {
          node.append(el("span", "bk-context-item", text(element, ctx)));
        }
      }
      return node;
    },
    image(block, ctx) {
      const node = el("figure", "bk-figure");
      if (block.title) node.append(el("figcaption", "bk-image-title", text(block.title, ctx)));
      const link = el("a");
      link.href = imageUrl(block, ctx);
      link.target = "_blank";
      link.rel = "noopener";
      link.append(image(block, ctx));
      node.append(link);
      return node;
    },
    actions(block, ctx) {
      const node = el("div", "bk-actions");
      for (const element of block.elements || []) node.append(interactive(element, block.block_id, ctx));
      return node;
    },
    input(block, ctx) {
      const node = el("div", "bk-input");
      node.dataset.blockId = block.block_id;
      const label = el("label", "bk-input-label", Mrkdwn.plain(block.label?.text || ""));
      if (block.optional) label.append(el("span", "bk-optional", " (optional)"));
      node.append(label);
      const element = block.element || {};
      let control;
      if (element.type === "plain_text_input") {
        control = el(element.multiline ? "textarea" : "input", "bk-text-input");
        if (!element.multiline) control.type = "text";
        control.placeholder = element.placeholder?.text || "";
        if (element.initial_value) control.value = element.initial_value;
        if (element.max_length) control.maxLength = element.max_length;
        control.dataset.minLength = element.min_length || 0;
        if (ctx.inputs) {
          ctx.inputs.push({ block, element, read: () => ({ type: "plain_text_input", value: control.value }) });
        }
      } else if (element.type === "static_select") {
        control = staticSelect(element, block.block_id, ctx);
        if (ctx.inputs) {
          ctx.inputs.push({
            block, element, read: () => ({
              type: "static_select",
              selected_option: control.value ? { value: control.value, text: { type: "plain_text", text: control.selectedOptions[0].text } } : null,
            }),
          });
        }
      } else {
        control = el("div", "bk-unsupported", Mrkdwn.escapeHtml(`[${element.type} input]`));
      }
      control.addEventListener("input", () => {
        node.classList.remove("invalid");
        node.querySelector(".bk-error").textContent = "";
      });
      control.id = `input-${block.block_id}`;
      label.htmlFor = control.id;
      node.append(control);
      if (block.hint) node.append(el("div", "bk-hint", Mrkdwn.plain(block.hint.text)));
      node.append(el("div", "bk-error"));
      return node;
    },
    rich_text(block, ctx) {
      const node = el("div", "bk-text");
      node.innerHTML = (block.elements || []).map((section) =>
        (section.elements || []).map((item) => {
          if (item.type === "text") return Mrkdwn.plain(item.text).replace(/\n/g, "<br>");
          if (item.type === "user") return `<span class="mention">@${Mrkdwn.escapeHtml(ctx.userName(item.user_id))}</span>`;
          if (item.type === "link") return `<a href="${Mrkdwn.escapeHtml(item.url)}">${Mrkdwn.escapeHtml(item.text || item.url)}</a>`;
          if (item.type === "emoji") return Mrkdwn.emoji(`:${item.name}:`);
          return "";
        }).join("")).join("<br>");
      return node;
    },
  };

  function render(blocks, ctx) {
    const container = el("div", "bk-blocks");
    for (const block of blocks || []) {
      const renderer = RENDER[block.type];
      const node = renderer
        ? renderer(block, ctx)
        : el("div", "bk-unsupported", Mrkdwn.escapeHtml(`[unsupported block: ${block.type}]`));
      node.dataset.blockType = block.type;
      if (block.block_id) node.dataset.blockId = block.block_id;
      container.append(node);
    }
    return container;
  }

  return { render, text, el };
})();
