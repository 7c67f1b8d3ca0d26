// Antiphon call player: both channels' waveforms (wavesurfer.js, peaks from the
// server), crosstalk / long-silence / transfer / hit overlays, transcript that
// follows playback, solo per party through Web Audio, speed, keyboard, links.
import WaveSurfer from './vendor/wavesurfer/wavesurfer.esm.js'
import RegionsPlugin from './vendor/wavesurfer/plugins/regions.esm.js'
import TimelinePlugin from './vendor/wavesurfer/plugins/timeline.esm.js'
import HoverPlugin from './vendor/wavesurfer/plugins/hover.esm.js'

const $ = (sel, root = document) => root.querySelector(sel)
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel))

const data = JSON.parse($('#conversation-data').textContent)
const P = data.player
const root = $('#player')
const audio = $('#media')
const statusEl = $('#player-status')
const colours = data.colours
const roles = data.recording.channel_roles || ['customer', 'agent']
const RATES = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2]

function clock(t) {
  t = Math.max(0, t || 0)
  const h = Math.floor(t / 3600)
  const m = Math.floor((t % 3600) / 60)
  const s = (t % 60).toFixed(1).padStart(4, '0')
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}

function rgba(hex, alpha) {
  let c = hex.replace('#', '')
  if (c.length === 3) c = c.split('').map((x) => x + x).join('')
  const n = parseInt(c, 16)
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`
}

function shade(hex, f) { // darken by f (0..1) for the played part
  let c = hex.replace('#', '')
  if (c.length === 3) c = c.split('').map((x) => x + x).join('')
  const n = parseInt(c, 16)
  const ch = (v) => Math.round(v * (1 - f)).toString(16).padStart(2, '0')
  return '#' + ch((n >> 16) & 255) + ch((n >> 8) & 255) + ch(n & 255)
}

function setStatus(text) { statusEl.textContent = text }

// ---- start time from ?t= or #t= ------------------------------------------------
function startTime() {
  const q = new URLSearchParams(location.search).get('t')
  const h = new URLSearchParams(location.hash.replace(/^#/, '')).get('t')
  const v = parseFloat(q ?? h ?? '')
  return Number.isFinite(v) && v >= 0 ? v : 0
}

// ---- peaks -----------------------------------------------------------------------
async function loadPeaks() {
  const res = await fetch(data.recording.peaks_url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  if (!res.ok) {
    let msg = `HTTP ${res.status}`
    try { msg = (await res.json()).error || msg } catch (e) { /* not JSON */ }
    throw new Error(msg)
  }
  const body = await res.json()
  let peaks
  if (body.encoding === 'u8-base64') {
    peaks = body.data.map((b64) => {
      const bin = atob(b64)
      const out = new Float32Array(bin.length)
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i) / 255
      return out
    })
  } else {
    peaks = body.peaks.map((a) => Float32Array.from(a))
  }
  return { peaks, duration: body.duration }
}

// ---- Web Audio: solo a party into both ears ---------------------------------------
// media -> ChannelSplitter(2) -> four gains (input channel x output ear) -> ChannelMerger(2)
const audioGraph = { ctx: null, gains: null }
let solo = 'both'

function gainValues(mode) {
  // [L->left, L->right, R->left, R->right]; the recording's channel 1 is left.
  if (mode === 'both') return [1, 0, 0, 1]
  const ch = roles.indexOf(mode)
  return ch === 0 ? [1, 1, 0, 0] : [0, 0, 1, 1]
}

function buildGraph() {
  if (audioGraph.ctx || !audio) return
  const Ctx = window.AudioContext || window.webkitAudioContext
  if (!Ctx) return
  const ctx = new Ctx()
  const src = ctx.createMediaElementSource(audio)
  const split = ctx.createChannelSplitter(2)
  const merge = ctx.createChannelMerger(2)
  src.connect(split)
  const gains = []
  for (const [inCh, outCh] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
    const g = ctx.createGain()
    split.connect(g, inCh)
    g.connect(merge, 0, outCh)
    gains.push(g)
  }
  merge.connect(ctx.destination)
  audioGraph.ctx = ctx
  audioGraph.gains = gains
  applySolo()
}

function applySolo() {
  const vals = gainValues(solo)
  if (audioGraph.gains) {
    const t = audioGraph.ctx.currentTime
    audioGraph.gains.forEach((g, i) => { g.gain.cancelScheduledValues(t); g.gain.value = vals[i] })
  }
  root.dataset.solo = solo
  root.dataset.gains = vals.join(',')
  const radio = $(`#solo-${solo}`)
  if (radio && !radio.checked) radio.checked = true
  $$('.channel-labels span').forEach((el) => el.classList.toggle('muted-channel', solo !== 'both' && !el.classList.contains(solo)))
  if (ws) ws.setOptions({ splitChannels: channelOptions() }) // the silenced party's waveform fades
}

function channelOptions() {
  return roles.map((role) => {
    const c = colours[role] || '#555'
    const faded = solo !== 'both' && role !== solo
    return { waveColor: faded ? rgba(c, 0.25) : c, progressColor: faded ? rgba(shade(c, 0.45), 0.3) : shade(c, 0.45) }
  })
}

function setSolo(mode) {
  if (!['both', 'customer', 'agent'].includes(mode)) return
  solo = mode
  applySolo()
}

// ---- transcript ----------------------------------------------------------------------
const words = $$('#transcript .words > span').map((el) => ({ el, start: +el.dataset.s, end: +el.dataset.e }))
const turns = $$('#transcript .turn').map((el) => ({ el, start: +el.dataset.start, end: +el.dataset.end }))
let currentWord = null
let currentTurn = null
const pane = $('#transcript')
const follow = $('#follow')

function lastStartingBefore(list, t) { // binary search: last item with start <= t
  let lo = 0; let hi = list.length - 1; let ans = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (list[mid].start <= t) { ans = mid; lo = mid + 1 } else hi = mid - 1
  }
  return ans
}

function highlight(t) {
  const wi = lastStartingBefore(words, t)
  const w = wi >= 0 && t < words[wi].end + 0.15 ? words[wi] : null
  if (w !== currentWord) {
    if (currentWord) currentWord.el.classList.remove('current')
    if (w) w.el.classList.add('current')
    currentWord = w
  }
  const ti = lastStartingBefore(turns, t)
  const turn = ti >= 0 && t <= turns[ti].end + 0.5 ? turns[ti] : null
  if (turn !== currentTurn) {
    if (currentTurn) currentTurn.el.classList.remove('current')
    if (turn) {
      turn.el.classList.add('current')
      if (pane && (!follow || follow.checked)) {
        const top = turn.el.offsetTop - pane.offsetTop
        if (top < pane.scrollTop || top + turn.el.offsetHeight > pane.scrollTop + pane.clientHeight) {
          pane.scrollTo({ top: Math.max(0, top - pane.clientHeight / 3), behavior: 'auto' })
        }
      }
    }
    currentTurn = turn
  }
}

// ---- find in transcript ------------------------------------------------------------
const norm = (x) => x.toLowerCase().replace(/[^\p{L}\p{N}']+/gu, '')
const wordText = words.map((w) => norm(w.el.textContent))
let matches = [] // start index of each match in `words`
const findInput = $('#find')
const findCount = $('#find-count')

function find(text) {
  for (const i of matches) for (let k = 0; k < (find.len || 1); k++) words[i + k].el.classList.remove('match')
  const toks = text.split(/\s+/).map(norm).filter(Boolean)
  matches = []
  find.len = toks.length
  if (toks.length) {
    for (let i = 0; i + toks.length <= words.length; i++) {
      let ok = true
      for (let k = 0; k < toks.length && ok; k++) ok = k === toks.length - 1 ? wordText[i + k].startsWith(toks[k]) : wordText[i + k] === toks[k]
      if (ok) matches.push(i)
    }
    for (const i of matches) for (let k = 0; k < toks.length; k++) words[i + k].el.classList.add('match')
  }
  if (findCount) findCount.textContent = toks.length ? `${matches.length} match${matches.length === 1 ? '' : 'es'}` : ''
  return matches.length
}

function findNext() {
  if (!matches.length) return
  const t = ws ? ws.getCurrentTime() : 0
  const next = matches.find((i) => words[i].start > t + 0.05) ?? matches[0]
  seek(words[next].start)
  const el = words[next].el
  if (pane) pane.scrollTo({ top: Math.max(0, el.offsetTop - pane.offsetTop - pane.clientHeight / 3) })
}

if (findInput) {
  findInput.addEventListener('input', () => find(findInput.value))
  findInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); findNext() } })
  $('#find-next').addEventListener('click', findNext)
}

// ---- the player -------------------------------------------------------------------------
let ws = null
const playBtn = $('#play')
const posEl = $('#position')
const waveEl = $('#waveform')

function seek(t) {
  const d = ws ? ws.getDuration() : (audio ? audio.duration : 0)
  t = Math.max(0, Math.min(t, d || t))
  if (ws) ws.setTime(t); else if (audio) audio.currentTime = t
  onTime(t)
}

function onTime(t) {
  posEl.textContent = clock(t)
  root.dataset.time = t.toFixed(3)
  waveEl.setAttribute('aria-valuenow', t.toFixed(1))
  waveEl.setAttribute('aria-valuetext', clock(t))
  highlight(t)
}

async function togglePlay() {
  if (!ws) return
  buildGraph()
  if (audioGraph.ctx && audioGraph.ctx.state === 'suspended') { try { await audioGraph.ctx.resume() } catch (e) { /* no output device */ } }
  if (ws.isPlaying()) ws.pause(); else await ws.play().catch((e) => setStatus(`Cannot play: ${e.message}`))
}

function setRate(r) {
  r = Math.min(2, Math.max(0.5, r))
  try { localStorage.setItem('antiphon.rate', String(r)) } catch (e) { /* storage off */ }
  if (ws) ws.setPlaybackRate(r, true); else if (audio) audio.playbackRate = r
  root.dataset.rate = String(r)
  const sel = $('#rate')
  if (sel.value !== String(r)) sel.value = String(r)
}

// Moments to jump between with N / P: crosstalk, long silences, transfers, hits, interruptions.
const moments = [
  ...P.crosstalk.map(([s]) => s), ...P.long_silences.map((x) => x.start), ...P.segments.map((x) => x.start),
  ...P.markers.map((x) => x.start), ...P.interruptions.map((x) => x.start),
].filter((x) => x != null && x > 0).sort((a, b) => a - b)

function jump(direction) {
  const t = ws ? ws.getCurrentTime() : 0
  const target = direction > 0 ? moments.find((m) => m > t + 0.05) : [...moments].reverse().find((m) => m < t - 0.5)
  if (target != null) seek(target)
}

function shareLink() {
  const t = ws ? ws.getCurrentTime() : 0
  const url = new URL(location.href)
  url.hash = ''
  url.searchParams.set('t', t.toFixed(1))
  const input = $('#share-url')
  input.hidden = false
  input.value = url.toString()
  input.select()
  if (navigator.clipboard) navigator.clipboard.writeText(url.toString()).then(() => setStatus(`Link copied: ${url}`), () => setStatus('Link ready to copy'))
  else setStatus('Link ready to copy')
  return url.toString()
}

function addOverlays(regions) {
  const band = (start, end, colour, label, cls) => regions.addRegion({
    start, end, color: rgba(colour, 0.3), drag: false, resize: false, id: `${cls}-${start}`,
  })
  for (const [s, e] of P.crosstalk) band(s, e, colours.crosstalk, 'Crosstalk', 'crosstalk')
  for (const s of P.long_silences) band(s.start, s.end, colours.silence, `Silence ${s.duration.toFixed(1)} s`, 'silence')
  // wavesurfer draws in a shadow root: page CSS does not reach labels, so style them inline
  const labelStyle = (el, bg, top) => Object.assign(el.style, {
    display: 'inline-block', position: 'absolute', top: `${top}px`, left: '1px', fontSize: '11px', lineHeight: '1.25',
    padding: '1px 4px', borderRadius: '3px', whiteSpace: 'nowrap', color: '#fff', background: bg,
    fontFamily: 'system-ui, sans-serif', fontWeight: '600', cursor: 'pointer', zIndex: '4',
  })
  P.segments.forEach((seg, i) => {
    if (seg.start == null) return
    const label = document.createElement('span')
    label.className = 'region-label segment'
    labelStyle(label, colours.segment, 2)
    label.textContent = `${i === 0 ? '' : '⇄ '}${seg.worker || 'agent'}${seg.queue ? ' · ' + seg.queue : ''}`
    regions.addRegion({ start: seg.start, color: colours.segment, content: label, drag: false, resize: false, id: `segment-${i}` })
  })
  P.markers.forEach((m, i) => {
    const label = document.createElement('span')
    label.className = `region-label marker ${m.kind}`
    labelStyle(label, colours.marker, 2 * 84 - 20)
    label.textContent = m.label
    label.title = `${m.kind}: ${m.label}${m.party ? ' (' + m.party + ')' : ''} at ${clock(m.start)}`
    regions.addRegion({ start: m.start, color: colours.marker, content: label, drag: false, resize: false, id: `marker-${i}` })
  })
}

async function init() {
  if (!audio) { setStatus('No recording is stored for this conversation.'); root.dataset.state = 'error'; return }
  const t0 = startTime()
  let peaks = null; let duration = P.duration
  try {
    ({ peaks, duration } = await loadPeaks())
  } catch (e) {
    setStatus(`Waveform unavailable (${e.message}); audio still plays.`)
  }
  const regions = RegionsPlugin.create()
  ws = WaveSurfer.create({
    container: waveEl,
    media: audio,
    peaks: peaks || undefined,
    duration: duration || undefined,
    splitChannels: channelOptions(),
    height: 84,
    normalize: true,
    barWidth: 2,
    barGap: 1,
    barMinHeight: 1,
    cursorColor: '#24292f',
    cursorWidth: 2,
    dragToSeek: true,
    autoScroll: true,
    autoCenter: true,
    hideScrollbar: false,
    plugins: [
      regions,
      TimelinePlugin.create({ container: '#wave-timeline', height: 18, style: { fontSize: '11px', color: '#57606a' } }),
      HoverPlugin.create({ lineColor: '#24292f', lineWidth: 1, labelBackground: '#24292f', labelColor: '#fff', labelSize: '11px', formatTimeCallback: clock }),
    ],
  })
  window.antiphon = { ws, audio, data, seek, setSolo, setRate, shareLink, togglePlay, jump, moments, find, findNext, graph: audioGraph,
    gains: () => audioGraph.gains ? audioGraph.gains.map((g) => g.gain.value) : null }

  ws.on('timeupdate', onTime)
  ws.on('play', () => { root.dataset.state = 'playing'; playBtn.setAttribute('aria-label', 'Pause'); playBtn.querySelector('.icon').textContent = '❚❚' })
  ws.on('pause', () => { root.dataset.state = 'paused'; playBtn.setAttribute('aria-label', 'Play'); playBtn.querySelector('.icon').textContent = '▶' })
  ws.on('finish', () => { root.dataset.state = 'paused' })
  ws.on('error', (e) => setStatus(`Audio error: ${e && e.message ? e.message : e}`))
  ws.once('ready', (d) => {
    $('#duration').textContent = clock(d)
    waveEl.setAttribute('aria-valuemax', d.toFixed(1))
    addOverlays(regions)
    playBtn.disabled = false
    if (t0 > 0) seek(t0); else onTime(0)
    let saved = NaN
    try { saved = parseFloat(localStorage.getItem('antiphon.rate')) } catch (e) { /* storage off */ }
    if (RATES.includes(saved) && saved !== 1) setRate(saved) // a reviewer's speed carries over to the next call
    root.dataset.state = 'ready'
    root.dataset.ready = '1'
    window.antiphon.readyAt = performance.now() // ms since navigation start
    setStatus(peaks ? '' : statusEl.textContent)
    window.dispatchEvent(new CustomEvent('antiphon:ready', { detail: { duration: d } }))
  })
  regions.on('region-clicked', (region, e) => {
    // clicking a marker seeks to it; a band seeks to where it was clicked (default)
    if (region.end === region.start) { e.stopPropagation(); seek(region.start) }
  })
}

// ---- controls --------------------------------------------------------------------------
playBtn.addEventListener('click', togglePlay)
$('#back').addEventListener('click', () => ws && seek(ws.getCurrentTime() - 5))
$('#forward').addEventListener('click', () => ws && seek(ws.getCurrentTime() + 5))
$('#rate').addEventListener('change', (e) => setRate(parseFloat(e.target.value)))
$$('input[name=solo]').forEach((r) => r.addEventListener('change', (e) => { if (e.target.checked) { buildGraph(); setSolo(e.target.value) } }))
$('#share').addEventListener('click', shareLink)
const zoom = $('#zoom')
zoom.addEventListener('input', () => {
  const v = +zoom.value
  if (ws) ws.zoom(v)
  zoom.setAttribute('aria-valuetext', v ? `${v} pixels per second` : 'fit to width')
})
document.addEventListener('click', (e) => {
  const seekEl = e.target.closest('[data-seek]')
  if (seekEl) { seek(+seekEl.dataset.seek); return }
  const w = e.target.closest('#transcript .words > span')
  if (w) seek(+w.dataset.s)
})

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return
  const tag = e.target.tagName
  const typing = (tag === 'INPUT' && !['radio', 'checkbox', 'range', 'button'].includes(e.target.type)) || tag === 'TEXTAREA' || tag === 'SELECT' || e.target.isContentEditable
  if (typing) return
  const onRange = tag === 'INPUT' && e.target.type === 'range'
  const t = ws ? ws.getCurrentTime() : 0
  const step = e.shiftKey ? 1 : 5
  switch (e.key) {
    case ' ': case 'k': case 'K':
      e.preventDefault(); togglePlay(); break
    case 'ArrowLeft':
      if (onRange || (tag === 'INPUT' && e.target.type === 'radio')) return
      e.preventDefault(); seek(t - step); break
    case 'ArrowRight':
      if (onRange || (tag === 'INPUT' && e.target.type === 'radio')) return
      e.preventDefault(); seek(t + step); break
    case 'Home': if (onRange) return; e.preventDefault(); seek(0); break
    case 'End': if (onRange) return; e.preventDefault(); seek(ws ? ws.getDuration() : 0); break
    case 'c': case 'C': buildGraph(); setSolo('customer'); break
    case 'a': case 'A': buildGraph(); setSolo('agent'); break
    case 'b': case 'B': buildGraph(); setSolo('both'); break
    case '[': setRate(RATES[Math.max(0, RATES.indexOf(parseFloat($('#rate').value)) - 1)]); break
    case ']': setRate(RATES[Math.min(RATES.length - 1, RATES.indexOf(parseFloat($('#rate').value)) + 1)]); break
    case 'l': case 'L': shareLink(); break
    case 'n': case 'N': jump(1); break
    case 'p': case 'P': jump(-1); break
    default: return
  }
})

applySolo()
init().catch((e) => { setStatus(`Player failed to start: ${e.message}`); root.dataset.state = 'error' })
