/**
 * The overlay over the whole layer view: the hovered unit, the windows / units it reads in the
 * previous layer with links to them, the pool winner, and the receptive field on the input tile.
 * createLinks(container) → {draw(scene), clear()}; rectangles are {x, y, w, h} in container pixels.
 * scene = {target, sources: [{rect, strength?}], windows: [rect], winner: rect|null, rf: rect|null}
 */

export function createLinks(container) {
  const canvas = document.createElement("canvas");
  canvas.className = "links-overlay";
  canvas.setAttribute("aria-hidden", "true");
  container.append(canvas);
  const ctx = canvas.getContext("2d");
  let dpr = 1;

  function fit() {
    dpr = window.devicePixelRatio || 1;
    const w = container.scrollWidth,
      h = container.scrollHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  const centre = (r) => ({ x: r.x + r.w / 2, y: r.y + r.h / 2 });

  function clear() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
  }

  function draw({ target, sources = [], windows = [], winner = null, rf = null }) {
    fit();
    clear();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (!target) return;
    const t = centre(target);
    const maxStrength = Math.max(1e-9, ...sources.map((s) => Math.abs(s.strength ?? 1)));
    // links: from the hovered unit to each window (conv, pool) or each source unit
    ctx.lineWidth = 1.5;
    const ends = windows.length ? windows : sources.map((s) => s.rect);
    ends.forEach((r, i) => {
      const s =
        !windows.length && sources[i].strength !== undefined
          ? Math.abs(sources[i].strength) / maxStrength
          : 1;
      const positive = windows.length || (sources[i].strength ?? 1) >= 0;
      ctx.strokeStyle = positive
        ? `rgba(194, 65, 12, ${0.25 + 0.6 * s})`
        : `rgba(29, 78, 216, ${0.25 + 0.6 * s})`;
      ctx.lineWidth = 1 + 2 * s;
      const e = centre(r);
      ctx.beginPath();
      ctx.moveTo(t.x, t.y);
      ctx.bezierCurveTo((t.x + e.x) / 2, t.y, (t.x + e.x) / 2, e.y, e.x, e.y);
      ctx.stroke();
    });
    ctx.fillStyle = "rgba(250, 204, 21, 0.30)";
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 2;
    for (const r of windows) {
      ctx.fillRect(r.x, r.y, r.w, r.h);
      ctx.strokeRect(r.x, r.y, r.w, r.h);
    }
    if (!windows.length) {
      for (const s of sources) {
        ctx.strokeRect(s.rect.x - 1, s.rect.y - 1, s.rect.w + 2, s.rect.h + 2);
      }
    }
    if (winner) {
      ctx.strokeStyle = "#16a34a";
      ctx.lineWidth = 3;
      ctx.strokeRect(winner.x + 1, winner.y + 1, winner.w - 2, winner.h - 2);
    }
    if (rf) {
      ctx.strokeStyle = "#facc15";
      ctx.lineWidth = 3;
      ctx.strokeRect(rf.x, rf.y, rf.w, rf.h);
    }
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 3;
    ctx.strokeRect(target.x - 1.5, target.y - 1.5, target.w + 3, target.h + 3);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 1;
    ctx.strokeRect(target.x - 1.5, target.y - 1.5, target.w + 3, target.h + 3);
  }

  return { draw, clear, element: canvas };
}
