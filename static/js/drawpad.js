/**
 * The drawing pad: pointer events (mouse, touch, pen — pen pressure varies the width), brush size,
 * eraser, undo, clear.  White ink on black, like MNIST.
 *
 * createDrawpad(container, {size, onStroke(event), brush, tool}) →
 *   {update({tool, brush}), clear(), wipe(), undo(), snapshot(n) → rows [n][n] grayscale in [0,1],
 *    toDataURL(), isBlank(), load(rows), element}
 * onStroke(kind, timeStamp) fires on every repaint of the ink ("move", "end", "clear", "undo").
 */

export function createDrawpad(container, { size = 280, onStroke = () => {}, brush = 22, tool = "pen" } = {}) {
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  canvas.className = "drawpad-canvas";
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", "Drawing pad: draw a digit with the mouse, a finger or a pen");
  container.append(canvas);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const small = document.createElement("canvas");
  const sctx = small.getContext("2d", { willReadFrequently: true });
  const undoStack = [];
  let opts = { brush, tool };
  let last = null;
  let activePointer = null;
  let blank = true;

  function fillBlack() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, size, size);
  }
  fillBlack();

  const toCanvas = (e) => {
    const r = canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) / r.width) * size,
      y: ((e.clientY - r.top) / r.height) * size,
      p: e.pointerType === "pen" ? e.pressure || 0.5 : 0.5,
    };
  };

  function segment(a, b) {
    const width = opts.brush * (0.4 + 1.2 * b.p); // pressure 0.5 (mouse, touch) → brush
    ctx.strokeStyle = opts.tool === "eraser" ? "#000" : "#fff";
    ctx.lineWidth = opts.tool === "eraser" ? width * 1.6 : width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x + (a.x === b.x && a.y === b.y ? 0.01 : 0), b.y);
    ctx.stroke();
    if (opts.tool !== "eraser") blank = false;
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (activePointer !== null || e.button > 0) return;
    activePointer = e.pointerId;
    canvas.setPointerCapture(e.pointerId);
    undoStack.push({ image: ctx.getImageData(0, 0, size, size), blank });
    if (undoStack.length > 40) undoStack.shift();
    last = toCanvas(e);
    segment(last, last);
    onStroke("move", e.timeStamp);
    e.preventDefault();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (e.pointerId !== activePointer) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) {
      const p = toCanvas(ev);
      segment(last, p);
      last = p;
    }
    onStroke("move", e.timeStamp);
  });
  const end = (e) => {
    if (e.pointerId !== activePointer) return;
    activePointer = null;
    last = null;
    onStroke("end", e.timeStamp);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  return {
    element: canvas,
    update(o) {
      opts = { ...opts, ...o };
    },
    clear() {
      undoStack.push({ image: ctx.getImageData(0, 0, size, size), blank });
      fillBlack();
      blank = true;
      onStroke("clear", performance.now());
    },
    /** Blank the pad without an onStroke (another input replaced the drawing); undoable. */
    wipe() {
      if (blank) return;
      undoStack.push({ image: ctx.getImageData(0, 0, size, size), blank });
      fillBlack();
      blank = true;
    },
    undo() {
      const prev = undoStack.pop();
      if (!prev) return;
      ctx.putImageData(prev.image, 0, 0);
      blank = prev.blank;
      onStroke("undo", performance.now());
    },
    isBlank: () => blank,
    /** Show grayscale rows (e.g. a 32×32 input from a link) scaled to the pad; undoable, no onStroke. */
    load(rows) {
      undoStack.push({ image: ctx.getImageData(0, 0, size, size), blank });
      const h = rows.length,
        w = rows[0].length;
      const src = document.createElement("canvas");
      src.width = w;
      src.height = h;
      const sc = src.getContext("2d");
      const img = sc.createImageData(w, h);
      let any = false;
      rows.forEach((row, y) =>
        row.forEach((v, x) => {
          const g = Math.round(Math.min(1, Math.max(0, v)) * 255);
          img.data.set([g, g, g, 255], (y * w + x) * 4);
          if (g) any = true;
        }),
      );
      sc.putImageData(img, 0, 0);
      fillBlack();
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(src, 0, 0, size, size);
      blank = !any;
    },
    /** Area-averaged n×n grayscale rows in [0,1] (3 decimals): a small body, no PNG encode. */
    snapshot(n = 56) {
      small.width = n;
      small.height = n;
      sctx.imageSmoothingEnabled = true;
      sctx.imageSmoothingQuality = "high";
      sctx.drawImage(canvas, 0, 0, n, n);
      const px = sctx.getImageData(0, 0, n, n).data;
      const rows = [];
      for (let y = 0; y < n; y++) {
        const row = new Array(n);
        for (let x = 0; x < n; x++) row[x] = Math.round(px[(y * n + x) * 4] / 0.255) / 1000;
        rows.push(row);
      }
      return rows;
    },
    toDataURL: () => canvas.toDataURL("image/png"),
  };
}
