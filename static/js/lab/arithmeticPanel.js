// The arithmetic of one output pixel: the window's input values, the kernel, their element-wise
// products and the sum (computed in the browser), next to the server's value for that pixel.
// The root element carries data-sum / data-value / data-oy / data-ox / data-channel for tests.
import { el } from "../core/dom.js";
import { fmt } from "./scale.js";

const NAMES = ["R", "G", "B"];
const ACT_NAMES = { relu: "ReLU", sigmoid: "sigmoid", tanh: "tanh" };

function grid(title, k, cells, className) {
  const body = el("div", { class: `num-grid ${className}` });
  body.style.gridTemplateColumns = `repeat(${k}, minmax(0, 1fr))`;
  body.style.setProperty("--k", String(k));
  body.append(...cells);
  return el("div", { class: "arith-block" }, el("h3", {}, title), body);
}

export function createArithmeticPanel(container, { onShowChannel = () => {} } = {}) {
  const root = el("div", { class: "arith", "aria-live": "polite" });
  container.append(root);
  let shown = 0; // which channel's grids are visible in "sum" mode

  function update(info) {
    root.replaceChildren();
    delete root.dataset.sum;
    delete root.dataset.value;
    if (!info) {
      root.append(
        el(
          "p",
          { class: "hint" },
          "Hover a pixel of the feature map (or play the animation) to see how it is computed.",
        ),
      );
      return;
    }
    const { arith, geo, oy, ox, serverValue, activation, activated, mode, channels } = info;
    const part = mode === "sum" ? arith.parts[Math.min(shown, arith.parts.length - 1)] : arith.parts[0];
    const channelName = channels === 3 ? NAMES[part.channel] : "";
    Object.assign(root.dataset, {
      sum: String(arith.sum),
      value: String(serverValue),
      oy,
      ox,
      channel: part.channel,
    });

    const head =
      `Output (${oy}, ${ox})` + (mode === "per_channel" && channels === 3 ? `, ${channelName} channel` : "");
    root.append(el("h3", { class: "arith-title" }, head));
    if (mode === "sum" && channels > 1) {
      root.append(
        el(
          "div",
          { class: "seg", role: "group", "aria-label": "channel whose products are listed" },
          arith.parts.map((p, i) =>
            el(
              "button",
              {
                type: "button",
                class: i === shown ? "on" : "",
                "aria-pressed": String(i === shown),
                onclick: () => {
                  shown = i;
                  onShowChannel(i);
                  update(info);
                },
              },
              `${NAMES[p.channel] || p.channel} channel`,
            ),
          ),
        ),
      );
    }
    const k = geo.kw;
    const values = part.values.map((v, i) =>
      el(
        "span",
        {
          class: arith.taps[i].inside ? "" : "pad",
          title: arith.taps[i].inside ? `input (${arith.taps[i].iy}, ${arith.taps[i].ix})` : "zero padding",
        },
        fmt(v),
      ),
    );
    const weights = arith.taps.map((t) => el("span", {}, fmt(info.kernel[t.ky][t.kx])));
    const products = part.products.map((p) =>
      el("span", { class: p > 0 ? "pos" : p < 0 ? "neg" : "" }, fmt(p)),
    );
    root.append(
      el(
        "div",
        { class: `arith-grids k${Math.min(k, 11)}` },
        grid(`window${channelName ? ` (${channelName})` : ""}`, k, values, "g-values"),
        el("span", { class: "op" }, "×"),
        grid("kernel", k, weights, "g-kernel"),
        el("span", { class: "op" }, "="),
        grid("products", k, products, "g-products"),
      ),
    );

    const lines = [];
    if (mode === "sum" && arith.parts.length > 1) {
      lines.push(
        el(
          "p",
          {},
          "Σ over channels: ",
          arith.parts.map((p) => `${NAMES[p.channel] || p.channel} ${fmt(p.sum, 5)}`).join(" + "),
          arith.bias ? ` + bias ${fmt(arith.bias)}` : "",
        ),
      );
    }
    const ok = Math.abs(arith.sum - serverValue) <= 1e-5 * Math.max(1, Math.abs(serverValue));
    lines.push(el("p", { class: "arith-sum" }, "sum = ", el("strong", {}, fmt(arith.sum, 6))));
    lines.push(
      el(
        "p",
        { class: `arith-check ${ok ? "ok" : "bad"}` },
        `server's value: ${fmt(serverValue, 6)} `,
        ok ? "✓ same to float precision" : "✗ differs!",
      ),
    );
    if (activation) {
      lines.push(
        el("p", {}, `${ACT_NAMES[activation]}(${fmt(arith.sum, 4)}) = `, el("strong", {}, fmt(activated, 4))),
      );
    }
    root.append(el("div", { class: "arith-lines" }, lines));
  }

  update(null);
  return { update };
}
