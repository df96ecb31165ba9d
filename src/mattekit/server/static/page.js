// The mattekit page: an image, prompts drawn on it, rounds sent to the API, the mattes shown back.
// Everything is in image pixels: the canvas holds the image at its own size and CSS scales it to the window,
// so a pointer position maps back with one ratio (image width / shown width). No external resources.
"use strict";

const COLOURS = ["#ff3b6b", "#2fa8ff", "#ffc400", "#3ddc84", "#b36bff", "#ff8a3d", "#00d1c1", "#f06292"];
const TINT = 0.6; // opacity of an instance's colour where its alpha is 1, in the overlay view
const CONFLICT_COLOURS = { 1: [61, 220, 132], 2: [255, 59, 107] }; // wants foreground, wants background
const VIEWS = ["overlay", "alpha", "cutout", "conflict"];
const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const context = canvas.getContext("2d");

const state = {
  session: null, width: 0, height: 0, photo: null, photoPixels: null,
  tool: "box", view: "overlay", instances: [], current: 0, drawing: null, busy: false,
};

function status(text) { $("status").textContent = text; }

function instance() { return state.instances.find((item) => item.id === state.current); }

function addInstance() {
  const id = state.instances.length ? Math.max(...state.instances.map((item) => item.id)) + 1 : 0;
  state.instances.push({ id, name: `object ${id + 1}`, colour: COLOURS[id % COLOURS.length],
    rounds: [], pending: [], alpha: null, conflict: null, layers: {} });
  state.current = id;
  refresh();
}

// ---- opening an image -------------------------------------------------------------------------------------

async function openImage(file) {
  if (!file) return;
  status(`Uploading ${file.name}...`);
  const form = new FormData();
  form.append("image", file, file.name);
  const answer = await api("/v1/sessions", { method: "POST", body: form });
  if (!answer) return;
  const { id, width, height } = await answer.json();
  if (state.session) fetch(`/v1/sessions/${state.session}`, { method: "DELETE" });
  const photo = new Image();
  photo.src = URL.createObjectURL(file);
  await photo.decode();
  Object.assign(state, { session: id, width, height, photo, instances: [], current: 0 });
  canvas.width = width;
  canvas.height = height;
  state.photoPixels = pixelsOf(photo);
  $("hint").hidden = true;
  canvas.hidden = false;
  addInstance();
  layout();
  status(`${file.name}: ${width}x${height}. Draw a box around what you want, then run.`);
}

function pixelsOf(source) {
  const scratch = document.createElement("canvas");
  scratch.width = state.width;
  scratch.height = state.height;
  const scratchContext = scratch.getContext("2d", { willReadFrequently: true });
  scratchContext.drawImage(source, 0, 0, state.width, state.height);
  return scratchContext.getImageData(0, 0, state.width, state.height).data;
}

function layout() {
  if (!state.session) return;
  const stage = $("stage");
  const scale = Math.min((stage.clientWidth - 16) / state.width, (stage.clientHeight - 16) / state.height);
  canvas.style.width = `${state.width * scale}px`;
  canvas.style.height = `${state.height * scale}px`;
  draw();
}

// ---- talking to the API -----------------------------------------------------------------------------------

async function api(url, options) {
  for (;;) {
    let answer;
    try {
      answer = await fetch(url, options);
    } catch (failure) {
      status(`The server cannot be reached (${failure.message}).`);
      return null;
    }
    if (answer.status === 503) {
      const wait = Number(answer.headers.get("Retry-After") || 1);
      status(`The server is busy; trying again in ${wait} s.`);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      continue;
    }
    if (answer.ok) return answer;
    const body = await answer.json().catch(() => ({ error: answer.statusText }));
    status(`Error ${answer.status}: ${body.error}`);
    return null;
  }
}

async function run() {
  const item = instance();
  if (!state.session || state.busy) return;
  if (!item.pending.length) { status("Add a click, scribble, box or text first."); return; }
  state.busy = true;
  const prompts = item.pending.slice();
  const started = performance.now();
  status(`Running round ${item.rounds.length + 1} of ${item.name}...`);
  const answer = await api(`/v1/sessions/${state.session}/rounds`, {
    method: "POST", headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ prompts, instance: item.id }),
  });
  state.busy = false;
  if (!answer) return;
  const result = await answer.json();
  item.rounds.push(prompts);
  item.pending.splice(0, prompts.length);
  await show(item, result);
  const seconds = (performance.now() - started) / 1000;
  $("seconds").textContent = `round ${result.rounds} of ${item.name}: ${seconds.toFixed(2)} s ` +
    `(matting ${result.seconds.toFixed(2)} s)`;
  status(`Round ${result.rounds} of ${item.name} done.`);
  if (item.pending.length && $("auto").checked) run();
}

async function undo() {
  const item = instance();
  if (!state.session || state.busy) return;
  if (item.pending.length) { item.pending.pop(); draw(); status("Removed the last prompt not yet run."); return; }
  if (!item.rounds.length) { status(`${item.name} has nothing to undo.`); return; }
  state.busy = true;
  const answer = await api(`/v1/sessions/${state.session}/undo?instance=${item.id}`,
    { method: "POST", headers: { accept: "application/json" } });
  state.busy = false;
  if (!answer) return;
  item.rounds.pop();
  await show(item, await answer.json());
  status(`Undone: ${item.name} has ${item.rounds.length} round(s).`);
}

async function show(item, result) {
  item.alpha = result.alpha ? channel(await decodePng(result.alpha)) : null;
  item.conflict = result.conflict ? channel(await decodePng(result.conflict)) : null;
  item.layers = {}; // the drawn views of the old alpha
  refresh();
}

async function decodePng(base64) {
  const image = new Image();
  image.src = `data:image/png;base64,${base64}`;
  await image.decode();
  return pixelsOf(image);
}

function channel(rgba) {
  const values = new Uint8ClampedArray(rgba.length / 4);
  for (let i = 0; i < values.length; i++) values[i] = rgba[4 * i];
  return values;
}

// ---- drawing ------------------------------------------------------------------------------------------------

function layer(pixel) {
  // A canvas of the image's size whose pixel i has the RGBA that pixel(i, rgba) writes into rgba.
  const pixels = new ImageData(state.width, state.height);
  const data = pixels.data;
  const rgba = [0, 0, 0, 0];
  for (let i = 0, at = 0; i < state.width * state.height; i++, at += 4) {
    pixel(i, rgba);
    data[at] = rgba[0];
    data[at + 1] = rgba[1];
    data[at + 2] = rgba[2];
    data[at + 3] = rgba[3];
  }
  const target = document.createElement("canvas");
  target.width = state.width;
  target.height = state.height;
  target.getContext("2d").putImageData(pixels, 0, 0);
  return target;
}

function viewLayer(item, view) {
  if (!item.layers[view]) item.layers[view] = drawView(item, view);
  return item.layers[view];
}

function drawView(item, view) {
  const photo = state.photoPixels;
  const alpha = item.alpha;
  const set = (rgba, r, g, b, a) => { rgba[0] = r; rgba[1] = g; rgba[2] = b; rgba[3] = a; };
  if (view === "overlay") {
    const [r, g, b] = [1, 3, 5].map((at) => parseInt(item.colour.slice(at, at + 2), 16));
    return layer((i, rgba) => set(rgba, r, g, b, Math.round(alpha[i] * TINT)));
  }
  if (view === "alpha") return layer((i, rgba) => set(rgba, alpha[i], alpha[i], alpha[i], 255));
  if (view === "cutout") {
    return layer((i, rgba) => set(rgba, photo[4 * i], photo[4 * i + 1], photo[4 * i + 2], alpha[i]));
  }
  return layer((i, rgba) => {
    const colour = CONFLICT_COLOURS[item.conflict[i]];
    if (colour) set(rgba, colour[0], colour[1], colour[2], 200);
    else set(rgba, 0, 0, 0, 110);
  });
}

function checkerboard() {
  const cell = Math.max(4, Math.round(state.width / 48));
  for (let y = 0; y < state.height; y += cell) {
    for (let x = 0; x < state.width; x += cell) {
      context.fillStyle = (x / cell + y / cell) % 2 ? "#bbbbbb" : "#eeeeee";
      context.fillRect(x, y, cell, cell);
    }
  }
}

function draw() {
  if (!state.session) return;
  const item = instance();
  context.clearRect(0, 0, state.width, state.height);
  if (state.view === "cutout" && item.alpha) checkerboard();
  else context.drawImage(state.photo, 0, 0, state.width, state.height);
  if (state.view === "overlay") {
    for (const other of state.instances) if (other.alpha) context.drawImage(viewLayer(other, "overlay"), 0, 0);
  } else if (item.alpha && (state.view !== "conflict" || item.conflict)) {
    context.drawImage(viewLayer(item, state.view), 0, 0);
  }
  const pixel = state.width / canvas.getBoundingClientRect().width; // one screen pixel in image pixels
  item.rounds.flat().forEach((prompt) => drawPrompt(prompt, item.colour, pixel, []));
  item.pending.forEach((prompt) => drawPrompt(prompt, item.colour, pixel, [6 * pixel, 4 * pixel]));
  if (state.drawing) drawPrompt(state.drawing, item.colour, pixel, [2 * pixel, 2 * pixel]);
}

function drawPrompt(prompt, colour, pixel, dash) {
  context.save();
  context.setLineDash(dash);
  context.lineWidth = 2 * pixel;
  const positive = prompt.positive !== false;
  context.strokeStyle = prompt.type === "box" ? colour : positive ? "#3ddc84" : "#ff3b6b";
  context.fillStyle = context.strokeStyle;
  if (prompt.type === "box") {
    context.strokeRect(prompt.x0, prompt.y0, prompt.x1 - prompt.x0 + 1, prompt.y1 - prompt.y0 + 1);
  } else if (prompt.type === "click") {
    context.beginPath();
    context.arc(prompt.x + 0.5, prompt.y + 0.5, Math.max(5, 5 * pixel), 0, 2 * Math.PI);
    context.fill();
    context.strokeStyle = "#ffffff";
    context.lineWidth = pixel;
    context.stroke();
  } else if (prompt.type === "scribble") {
    context.beginPath();
    prompt.points.forEach(([x, y], i) => (i ? context.lineTo(x + 0.5, y + 0.5) : context.moveTo(x + 0.5, y + 0.5)));
    context.lineWidth = Math.max(5, 3 * pixel);
    context.lineCap = context.lineJoin = "round";
    context.stroke();
  }
  context.restore();
}

// ---- prompts from the pointer (mouse, pen and touch) --------------------------------------------------------

function imagePoint(event) {
  // The image pixel under the pointer: the shown canvas is the image scaled by rect.width / width.
  const rect = canvas.getBoundingClientRect();
  const x = Math.floor(((event.clientX - rect.left) * state.width) / rect.width);
  const y = Math.floor(((event.clientY - rect.top) * state.height) / rect.height);
  return [Math.min(state.width - 1, Math.max(0, x)), Math.min(state.height - 1, Math.max(0, y))];
}

function pointerDown(event) {
  if (!state.session || event.button > 0) return;
  canvas.setPointerCapture(event.pointerId);
  const [x, y] = imagePoint(event);
  const positive = state.tool.endsWith("+");
  if (state.tool.startsWith("click")) state.drawing = { type: "click", x, y, positive };
  else if (state.tool.startsWith("scribble")) state.drawing = { type: "scribble", points: [[x, y]], positive };
  else state.drawing = { type: "box", x0: x, y0: y, x1: x, y1: y, start: [x, y] };
  draw();
}

function pointerMove(event) {
  const shape = state.drawing;
  if (!shape) return;
  const [x, y] = imagePoint(event);
  if (shape.type === "scribble") {
    const [lastX, lastY] = shape.points[shape.points.length - 1];
    if (x !== lastX || y !== lastY) shape.points.push([x, y]);
  } else if (shape.type === "box") {
    const [x0, y0] = shape.start;
    Object.assign(shape, { x0: Math.min(x0, x), y0: Math.min(y0, y), x1: Math.max(x0, x), y1: Math.max(y0, y) });
  }
  draw();
}

function pointerUp(event) {
  const shape = state.drawing;
  if (!shape) return;
  pointerMove(event);
  state.drawing = null;
  if (shape.type === "box") {
    delete shape.start;
    if (shape.x1 - shape.x0 < 1 || shape.y1 - shape.y0 < 1) { status("Drag to draw a box."); draw(); return; }
  }
  addPrompt(shape);
}

function addPrompt(prompt) {
  instance().pending.push(prompt);
  draw();
  if ($("auto").checked) run();
  else status(`${instance().pending.length} prompt(s) waiting; run when ready (R).`);
}

// ---- the instance list, tools and views ---------------------------------------------------------------------

function refresh() {
  const list = $("instances");
  list.replaceChildren(...state.instances.map((item) => {
    const row = document.createElement("li");
    row.className = item.id === state.current ? "selected" : "";
    row.dataset.instance = item.id;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = item.colour;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `${item.name}${item.rounds.length ? ` (${item.rounds.length})` : ""}`;
    const rename = document.createElement("button");
    rename.textContent = "rename";
    rename.title = "rename (F2)";
    rename.onclick = (event) => { event.stopPropagation(); renameInstance(item); };
    row.append(swatch, name, rename);
    row.onclick = () => { state.current = item.id; refresh(); };
    row.ondblclick = () => renameInstance(item);
    return row;
  }));
  const item = instance();
  for (const [output, link] of [["alpha", $("download-alpha")], ["cutout", $("download-cutout")]]) {
    const ready = item && item.alpha;
    link.classList.toggle("disabled", !ready);
    link.href = ready ? `/v1/sessions/${state.session}/result?instance=${item.id}&output=${output}` : "#";
    link.download = item ? `${item.name.replace(/[^\w.-]+/g, "_")}-${output}.png` : `${output}.png`;
  }
  draw();
}

function renameInstance(item) {
  const row = document.querySelector(`#instances li[data-instance="${item.id}"] .name`);
  const field = document.createElement("input");
  field.type = "text";
  field.value = item.name;
  field.setAttribute("aria-label", "instance name");
  const done = () => { item.name = field.value.trim() || item.name; refresh(); };
  field.onkeydown = (event) => {
    event.stopPropagation();
    if (event.key === "Enter") done();
    if (event.key === "Escape") refresh();
  };
  field.onblur = done;
  row.replaceWith(field);
  field.focus();
  field.select();
}

function chooseTool(tool) {
  state.tool = tool;
  document.querySelectorAll("#tools button").forEach((button) => {
    button.setAttribute("aria-pressed", String(button.dataset.tool === tool));
  });
}

function chooseView(view) {
  state.view = view;
  $("view").value = view;
  draw();
}

function shiftInstance(step) {
  const at = state.instances.findIndex((item) => item.id === state.current);
  const next = state.instances[(at + step + state.instances.length) % state.instances.length];
  if (next) { state.current = next.id; refresh(); }
}

const SHORTCUTS = {
  o: () => $("file").click(), 1: () => chooseTool("click+"), 2: () => chooseTool("click-"),
  3: () => chooseTool("scribble+"), 4: () => chooseTool("scribble-"), 5: () => chooseTool("box"),
  t: () => $("text").focus(), r: run, Enter: run, a: () => { $("auto").checked = !$("auto").checked; },
  u: undo, n: () => state.session && addInstance(), "[": () => shiftInstance(-1), "]": () => shiftInstance(1),
  F2: () => instance() && renameInstance(instance()),
  v: () => chooseView(VIEWS[(VIEWS.indexOf(state.view) + 1) % VIEWS.length]),
  d: () => $("download-alpha").click(), c: () => $("download-cutout").click(),
};

function keyDown(event) {
  if (event.target.tagName === "INPUT" || event.target.tagName === "SELECT") return;
  if ((event.ctrlKey || event.metaKey) && event.key === "z") { event.preventDefault(); undo(); return; }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const action = SHORTCUTS[event.key.length === 1 ? event.key.toLowerCase() : event.key];
  if (action) { event.preventDefault(); action(); }
}

// ---- wiring -------------------------------------------------------------------------------------------------

$("file").onchange = (event) => openImage(event.target.files[0]);
document.querySelectorAll("#tools button").forEach((button) => {
  button.onclick = () => chooseTool(button.dataset.tool);
});
$("run").onclick = run;
$("undo").onclick = undo;
$("add-instance").onclick = () => state.session && addInstance();
$("view").onchange = (event) => chooseView(event.target.value);
$("text").onkeydown = (event) => {
  if (event.key !== "Enter" || !state.session || !event.target.value.trim()) return;
  addPrompt({ type: "text", text: event.target.value.trim() });
  event.target.value = "";
};
canvas.addEventListener("pointerdown", pointerDown);
canvas.addEventListener("pointermove", pointerMove);
canvas.addEventListener("pointerup", pointerUp);
canvas.addEventListener("pointercancel", () => { state.drawing = null; draw(); });
window.addEventListener("keydown", keyDown);
window.addEventListener("resize", layout);
window.addEventListener("dragover", (event) => { event.preventDefault(); document.body.classList.add("dragging"); });
window.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
window.addEventListener("drop", (event) => {
  event.preventDefault();
  document.body.classList.remove("dragging");
  openImage(event.dataTransfer.files[0]);
});
chooseTool("box");

// For tests and scripts: the page's state, and the alpha it shows for an instance (one value per pixel).
window.mattekit = { state, alpha: (id) => Array.from(state.instances.find((item) => item.id === id).alpha) };
