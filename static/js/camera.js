/**
 * A live camera as the layer view's input (Setosa's and DeepVis's webcam): the centre square of
 * each frame, turned gray and inverted (dark ink on white paper becomes the white-on-black digit the
 * network knows), sent as a 56×56 image through the page's forward channel.  A new frame is sent
 * only once the last answer is drawn, at most every MIN_INTERVAL ms: the newest frame wins and the
 * server is never queued up.
 *
 * createCamera({button, video, onFrame(rows) → sent?, onStop(), onError(text), busy()}) → {start(), stop(), running()}
 * A browser or an address that refuses the camera (getUserMedia exists only on https:// pages and on
 * localhost) is said in words, with what to do.
 */
const SIDE = 56; // the frames are sent as the pad's snapshots are: 56×56 gray rows in 0..1
const MIN_INTERVAL = 80; // ms between frames: at most 12.5 a second

/** Why the camera cannot start here, in words, or null if it can be asked for. */
export function cameraRefusal(win = window) {
  if (!win.isSecureContext) {
    return (
      `The browser gives a camera only to https:// pages and to localhost; this page is ` +
      `${win.location.protocol}//${win.location.host}. Open ConvScope on the computer that runs it ` +
      `(http://localhost:…), or serve it over https.`
    );
  }
  if (!win.navigator.mediaDevices || !win.navigator.mediaDevices.getUserMedia) {
    return "This browser has no camera access (navigator.mediaDevices.getUserMedia is missing).";
  }
  return null;
}

const REASONS = {
  NotAllowedError:
    "The camera was refused. Allow it for this page in the browser's site settings, then try again.",
  NotFoundError: "No camera was found on this computer.",
  NotReadableError: "The camera is in use by another program, or cannot be read.",
  OverconstrainedError: "The camera cannot give a picture this page can use.",
};

/** Gray, inverted rows (SIDE×SIDE, 0..1) from the centre square of an RGBA frame of w×h pixels. */
export function frameRows(rgba, w, h, side = SIDE) {
  const s = Math.min(w, h);
  const x0 = Math.floor((w - s) / 2),
    y0 = Math.floor((h - s) / 2);
  const rows = [];
  for (let y = 0; y < side; y++) {
    const row = new Array(side);
    for (let x = 0; x < side; x++) {
      const sx = x0 + Math.floor(((x + 0.5) * s) / side);
      const sy = y0 + Math.floor(((y + 0.5) * s) / side);
      const i = (sy * w + sx) * 4;
      const gray = (0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2]) / 255;
      row[x] = 1 - gray;
    }
    rows.push(row);
  }
  return rows;
}

export function createCamera({ button, video, onFrame, onStop = () => {}, onError = () => {}, busy }) {
  let stream = null;
  let timer = null;
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });

  function tick() {
    timer = setTimeout(tick, MIN_INTERVAL);
    if (!stream || busy() || video.readyState < 2 || !video.videoWidth) return;
    const w = video.videoWidth,
      h = video.videoHeight;
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    ctx.drawImage(video, 0, 0, w, h);
    onFrame(frameRows(ctx.getImageData(0, 0, w, h).data, w, h));
  }

  function show(on) {
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "Stop camera" : "Camera";
    video.hidden = !on;
  }

  async function start() {
    const refusal = cameraRefusal();
    if (refusal) {
      onError(refusal);
      return false;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 320 }, height: { ideal: 240 }, facingMode: "user" },
        audio: false,
      });
    } catch (e) {
      stream = null;
      onError(REASONS[e.name] || `The camera could not start: ${e.message}`);
      return false;
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    show(true);
    tick();
    return true;
  }

  function stop() {
    clearTimeout(timer);
    timer = null;
    if (stream) for (const t of stream.getTracks()) t.stop();
    const was = stream !== null;
    stream = null;
    video.srcObject = null;
    show(false);
    if (was) onStop();
  }

  button.addEventListener("click", () => (stream ? stop() : start()));
  return { start, stop, running: () => stream !== null };
}
