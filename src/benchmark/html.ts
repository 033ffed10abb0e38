// report.html: one self-contained file (no network: inline CSS, JS and SVG, images as PNG data URIs). The results
// table sorts by any column; each row shows its intervals, whether the detector scores per sample or per batch,
// and the published AUROC beside ours; clicking a row draws its score histograms and ROC curve. Histograms and
// ROC points are computed here (eval/metrics.ts), so the page only draws.
import { rocCurve } from '../eval/metrics.js';
import { PUBLISHED, SOURCES, publishedFor } from './published.js';
import type { BenchmarkResult, BenchRow } from './run.js';
import { b64ToF32 } from './cache.js';
import type { ModelGrids } from './grids.js';
import { claimsOf } from './claims.js';
import { aliasesOf, modelLabel, notConvergedRefs, unconvergedModels } from './models.js';
import type { Proportion } from './latent.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));

/** Lower/upper quantiles of the pooled finite values, so a far-off noise set does not flatten the ID histogram. */
function range(series: Float32Array[], q = 0.005): [number, number] {
  const all: number[] = [];
  for (const s of series) for (const v of s) if (Number.isFinite(v)) all.push(v);
  if (all.length === 0) return [0, 1];
  all.sort((a, b) => a - b);
  const lo = all[Math.floor(q * (all.length - 1))]!, hi = all[Math.ceil((1 - q) * (all.length - 1))]!;
  return hi > lo ? [lo, hi] : [lo - 0.5, lo + 0.5];
}

/** Normalised counts in `bins` equal bins over [lo, hi] (values outside go to the edge bins). */
export function histogram(a: Float32Array, lo: number, hi: number, bins: number): number[] {
  const h = new Array<number>(bins).fill(0);
  let n = 0;
  for (const v of a) {
    if (!Number.isFinite(v)) continue;
    const i = Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * bins)));
    h[i]!++;
    n++;
  }
  return h.map((c) => (n ? c / n : 0));
}

/** At most ~`max` ROC points, always keeping the first and last. */
function thin(fpr: number[], tpr: number[], max = 120): [number, number][] {
  const step = Math.max(1, Math.ceil(fpr.length / max));
  const out: [number, number][] = [];
  for (let i = 0; i < fpr.length; i += step) out.push([+fpr[i]!.toFixed(4), +tpr[i]!.toFixed(4)]);
  const last = fpr.length - 1;
  if (last % step !== 0) out.push([+fpr[last]!.toFixed(4), +tpr[last]!.toFixed(4)]);
  return out;
}

interface PageRow {
  experiment: string; model: string; score: string; detector: string; kind: string; bn: string; pair: string; id: string; ood: string;
  nId: number; nOod: number; AUROC: number; 'AUPR-IN': number; 'AUPR-OUT': number; FPR95: number;
  ci: Record<string, [number, number]> | null; published: number | null; publishedText: string;
  hist: { lo: number; hi: number; id: number[]; ood: number[] } | null; roc: [number, number][] | null;
}

function pageRows(r: BenchmarkResult): PageRow[] {
  const out: PageRow[] = [];
  const unconverged = unconvergedModels(r);
  for (const u of r.units) {
    for (const row of u.rows) {
      const s = u.series.find((x) => x.row === row.score);
      let hist: PageRow['hist'] = null, roc: PageRow['roc'] = null;
      if (s && s.ood[row.pair]) {
        const a = b64ToF32(s.id), b = b64ToF32(s.ood[row.pair]!);
        const [lo, hi] = range([a, b]);
        hist = { lo, hi, id: histogram(a, lo, hi, 40).map((v) => +v.toFixed(5)), ood: histogram(b, lo, hi, 40).map((v) => +v.toFixed(5)) };
        const rc = rocCurve(a, b);
        roc = thin(rc.fpr, rc.tpr);
      }
      const pub = publishedFor(row.pair, row.score, row.bn);
      out.push({
        experiment: row.experiment, model: modelLabel(row.model, unconverged), score: row.score, detector: row.detector, kind: row.granularity === 'batch' ? 'batch' : 'per-sample',
        bn: row.bn, pair: row.pair, id: row.id, ood: row.ood, nId: row.nId, nOod: row.nOod,
        AUROC: row.AUROC, 'AUPR-IN': row['AUPR-IN'], 'AUPR-OUT': row['AUPR-OUT'], FPR95: row.FPR95TPR,
        ci: row.ci ? { AUROC: row.ci.AUROC, 'AUPR-IN': row.ci['AUPR-IN'], 'AUPR-OUT': row.ci['AUPR-OUT'], FPR95: row.ci.FPR95TPR } : null,
        published: pub.length ? pub[0]!.auroc : null, publishedText: pub.map((p) => `${p.auroc.toFixed(2)} [${p.source}]`).join('; '),
        hist, roc,
      });
    }
  }
  return out;
}

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:3px 7px;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}
#results th{cursor:pointer;background:#f3f3f3;user-select:none;position:sticky;top:0}
.scroll{max-height:60vh;overflow:auto;border:1px solid #ddd}
#results th[aria-sort=ascending]::after{content:" \\25B2"}#results th[aria-sort=descending]::after{content:" \\25BC"}
#results tbody tr{cursor:pointer}#results tbody tr:hover{background:#f6f9ff}#results tbody tr.sel{background:#e4edff}
td.num{text-align:right}.ci{color:#777;font-size:.85em}
.kind{font-size:.8em;padding:1px 5px;border-radius:3px}.kind.per-sample{background:#e2f4e2}.kind.batch{background:#fde8c8}
#detail{display:flex;gap:2em;flex-wrap:wrap;margin-top:1em}#detail svg{border:1px solid #ddd;background:#fff}
.grids img{image-rendering:pixelated;border:1px solid #ccc;margin:4px 8px 8px 0;vertical-align:top}
.muted{color:#666}
.warn{background:#fff4e5;border-left:4px solid #d9632b;padding:4px 8px}
#claims td{white-space:normal;vertical-align:top}#claims td.verdict{font-weight:600;white-space:nowrap}
.v-reproduced{color:#17692a}.v-not-reproduced{color:#a3291c}.v-not-run{color:#777}
`;

// The page's script: plain ES5-style code (no template literals) so it can live inside a TS template string.
const SCRIPT = `
(function(){
var data=JSON.parse(document.getElementById('data').textContent);
var rows=data.rows;
var cols=[
 {k:'experiment',t:'experiment'},{k:'model',t:'model'},{k:'score',t:'score'},{k:'kind',t:'kind'},{k:'bn',t:'BN'},
 {k:'pair',t:'pair'},{k:'nId',t:'n ID',n:1},{k:'nOod',t:'n OoD',n:1},{k:'AUROC',t:'AUROC',n:1,ci:1},{k:'AUPR-IN',t:'AUPR-IN',n:1,ci:1},
 {k:'AUPR-OUT',t:'AUPR-OUT',n:1,ci:1},{k:'FPR95',t:'FPR95',n:1,ci:1},{k:'published',t:'published AUROC',n:1}
];
var table=document.getElementById('results');
var thead=table.querySelector('thead tr'),tbody=table.querySelector('tbody');
var sortKey=null,sortDir=1,selected=0;
function fmt(v){return (v===null||v===undefined||isNaN(v))?'':(Number.isInteger(v)&&Math.abs(v)>1?String(v):Math.abs(v)>=100?v.toFixed(0):v.toFixed(3));}
function el(tag,attrs,text){var e=document.createElement(tag);for(var a in attrs)e.setAttribute(a,attrs[a]);if(text!==undefined)e.textContent=text;return e;}
cols.forEach(function(c){var th=el('th',{'data-key':c.k},c.t);th.addEventListener('click',function(){sortBy(c.k);});thead.appendChild(th);});
function cell(r,c){
 var td=el('td',c.n?{'class':'num'}:{});
 if(c.k==='kind'){td.appendChild(el('span',{'class':'kind '+r.kind},r.kind));return td;}
 if(c.k==='published'){td.textContent=r.publishedText;td.setAttribute('data-v',r.published===null?'':String(r.published));return td;}
 var v=r[c.k];td.setAttribute('data-v',String(v));
 td.appendChild(document.createTextNode(c.n?fmt(v):String(v)));
 if(c.ci&&r.ci&&r.ci[c.k]){td.appendChild(el('span',{'class':'ci'},' ['+fmt(r.ci[c.k][0])+', '+fmt(r.ci[c.k][1])+']'));}
 return td;
}
function render(){
 tbody.textContent='';
 order.forEach(function(i){var r=rows[i];var tr=el('tr',{'data-i':String(i)});if(i===selected)tr.className='sel';
  cols.forEach(function(c){tr.appendChild(cell(r,c));});
  tr.addEventListener('click',function(){selected=i;render();detail();});tbody.appendChild(tr);});
}
var order=rows.map(function(_,i){return i;});
function sortBy(k){
 if(sortKey===k)sortDir=-sortDir;else{sortKey=k;sortDir=cols.filter(function(c){return c.k===k;})[0].n?-1:1;}
 var num=cols.filter(function(c){return c.k===k;})[0].n;
 order.sort(function(a,b){var x=rows[a][k],y=rows[b][k];
  if(num){var xn=(x===null||isNaN(x)),yn=(y===null||isNaN(y));if(xn||yn)return xn===yn?a-b:(xn?1:-1);return x===y?a-b:(x<y?-sortDir:sortDir);}
  x=String(x);y=String(y);return x===y?a-b:(x<y?-sortDir:sortDir);});
 Array.prototype.forEach.call(thead.children,function(th){th.removeAttribute('aria-sort');if(th.getAttribute('data-key')===k)th.setAttribute('aria-sort',sortDir>0?'ascending':'descending');});
 render();
}
var NS='http://www.w3.org/2000/svg';
function svg(w,h){var s=document.createElementNS(NS,'svg');s.setAttribute('width',w);s.setAttribute('height',h);s.setAttribute('viewBox','0 0 '+w+' '+h);return s;}
function sv(tag,attrs,text){var e=document.createElementNS(NS,tag);for(var a in attrs)e.setAttribute(a,attrs[a]);if(text!==undefined)e.textContent=text;return e;}
function histSvg(r){
 var W=460,H=260,L=40,B=40,s=svg(W,H);s.setAttribute('class','hist');
 var h=r.hist,n=h.id.length,mx=Math.max.apply(null,h.id.concat(h.ood))||1,bw=(W-L-10)/n;
 [['id','#3b75c4'],['ood','#d9632b']].forEach(function(p){h[p[0]].forEach(function(v,i){
  var bh=(H-B-20)*v/mx;s.appendChild(sv('rect',{x:L+i*bw,y:H-B-bh,width:Math.max(bw-1,1),height:bh,fill:p[1],'fill-opacity':0.55,'class':'bar-'+p[0]}));});});
 s.appendChild(sv('line',{x1:L,y1:H-B,x2:W-10,y2:H-B,stroke:'#333'}));
 s.appendChild(sv('text',{x:L,y:H-B+16,'font-size':11},fmt(h.lo)));
 s.appendChild(sv('text',{x:W-10,y:H-B+16,'font-size':11,'text-anchor':'end'},fmt(h.hi)));
 s.appendChild(sv('text',{x:(W+L)/2,y:H-6,'font-size':12,'text-anchor':'middle'},r.score+' score (higher = more OoD)'));
 s.appendChild(sv('text',{x:L+4,y:14,'font-size':12,fill:'#3b75c4'},'ID '+r.id));
 s.appendChild(sv('text',{x:W-12,y:14,'font-size':12,fill:'#d9632b','text-anchor':'end'},'OoD '+r.ood));
 return s;
}
function rocSvg(r){
 var S=260,P=36,s=svg(S+P+10,S+P+10);s.setAttribute('class','roc');
 function X(f){return P+f*S;}function Y(t){return 10+(1-t)*S;}
 s.appendChild(sv('rect',{x:P,y:10,width:S,height:S,fill:'none',stroke:'#333'}));
 s.appendChild(sv('line',{x1:X(0),y1:Y(0),x2:X(1),y2:Y(1),stroke:'#aaa','stroke-dasharray':'4 3'}));
 s.appendChild(sv('polyline',{points:r.roc.map(function(p){return X(p[0]).toFixed(1)+','+Y(p[1]).toFixed(1);}).join(' '),fill:'none',stroke:'#d9632b','stroke-width':2}));
 s.appendChild(sv('text',{x:P+S/2,y:S+P+6,'font-size':12,'text-anchor':'middle'},'FPR (ID called OoD)'));
 s.appendChild(sv('text',{x:12,y:10+S/2,'font-size':12,'text-anchor':'middle',transform:'rotate(-90 12 '+(10+S/2)+')'},'TPR'));
 s.appendChild(sv('text',{x:X(1)-6,y:Y(0)-8,'font-size':12,'text-anchor':'end'},'AUROC '+fmt(r.AUROC)));
 return s;
}
function detail(){
 var d=document.getElementById('detail');d.textContent='';var r=rows[selected];if(!r)return;
 var cap=el('p',{'class':'muted'},r.experiment+' / '+r.model+' / '+r.score+' / BN '+r.bn+' / '+r.pair);
 d.appendChild(cap);
 if(r.hist)d.appendChild(histSvg(r));
 if(r.roc)d.appendChild(rocSvg(r));
}
render();detail();
document.body.setAttribute('data-ready','1');
})();
`;

export function reportHtml(r: BenchmarkResult, o: { command: string; grids: ModelGrids[] }): string {
  const rows = pageRows(r);
  const s = r.suite;
  // JSON inside <script>: '<' escaped so no "</script>" in a name can end the element.
  const json = JSON.stringify({ rows }).replace(/</g, '\\u003c');
  const pairs = new Set(rows.map((x) => x.pair));
  const pub = PUBLISHED.filter((p) => pairs.has(p.pair));
  const claims = claimsOf(r);
  const vclass = (v: string) => `v-${v.replace(/ /g, '-')}`;
  const claimsHtml = claims.length ? `<h2>Claims (Chen 2021, ch. 3)</h2>
<table id="claims"><thead><tr><th>claim</th><th></th><th>verdict</th><th>evidence</th><th>rule</th></tr></thead><tbody>
${claims.map((c) => `<tr data-claim="${esc(c.id)}" data-verdict="${esc(c.verdict)}"><td>${esc(c.id)}</td><td>${esc(c.claim)} <span class="muted">(${esc(c.source)})</span></td><td class="verdict ${vclass(c.verdict)}">${esc(c.label)}</td><td>${esc(c.evidence)}</td><td class="muted">${esc(c.rule)}</td></tr>`).join('\n')}
</tbody></table>` : '';
  const pc = (p: Proportion) => `${(100 * p.p).toFixed(1)}% <span class="ci">[${(100 * p.ci[0]).toFixed(1)}, ${(100 * p.ci[1]).toFixed(1)}]</span>`;
  const latentHtml = r.latent.length ? `<h2>Latent codes: linear SVM (Table 3.1) and moving along w (Fig. 3.10)</h2>
<table id="latent"><thead><tr><th>experiment</th><th>model</th><th>BN</th><th>pair</th><th>fit ID / OoD</th><th>positive acc.</th><th>negative acc.</th><th>AUROC(-d)</th><th>pixels pos. / neg.</th><th>ID-vs-ID control</th><th>likelihood AUROC</th><th>moved: ID side</th><th>unmoved</th><th>pixel judge: moved / unmoved</th></tr></thead><tbody>
${r.latent.flatMap((u) => u.pairs.map((p) => `<tr><td>${esc(u.experiment)}</td><td>${esc(u.model)}</td><td>${esc(u.bn)}</td><td>${esc(p.pair)}</td><td class="num">${p.fit.positive} / ${p.fit.negative}</td><td class="num">${pc(p.positive)}</td><td class="num">${pc(p.negative)}</td><td class="num">${p.auroc.toFixed(3)}</td><td class="num">${(100 * p.pixels.positive.p).toFixed(1)}% / ${(100 * p.pixels.negative.p).toFixed(1)}%</td><td class="num">${(100 * u.control.positive.p).toFixed(1)}% / ${(100 * u.control.negative.p).toFixed(1)}%</td><td class="num">${p.likelihoodAuroc.toFixed(3)}</td><td class="num">${pc(p.move.moved)} of ${p.move.moved.n}</td><td class="num">${pc(p.move.unmoved)}</td><td class="num">${p.move.pixels ? `${(100 * p.move.pixels.moved.p).toFixed(1)}% / ${(100 * p.move.pixels.unmoved.p).toFixed(1)}%` : ''}</td></tr>`)).join('\n')}
</tbody></table>
<p class="muted">SVM fitted on the model's training images (ID) and a seeded half of each OoD set; accuracies on the ID test set and the other half, with 95% Wilson intervals. Moved: held-out OoD codes on the OoD side, moved along w to the median ID depth, decoded, re-encoded and placed by the same SVM; unmoved: the same round trip without the move. Pixel judge: the pixel control's SVM (random projections of raw pixels) on the same decoded images, shown beside the rule's judge.</p>` : '';
  const notConverged = notConvergedRefs(r);
  const modelsHtml = r.runs.length ? `<h2>Models</h2>
${notConverged.length ? `<p class="warn" id="not-converged"><b>Not converged</b>: ${esc(notConverged.join(', '))}: weights not of a run that early stopping ended; the rows of such a main model say so.</p>` : ''}
<table id="models"><thead><tr><th>model</th><th>training</th><th>hash</th></tr></thead><tbody>
${r.runs.map((x) => `<tr data-converged="${x.training.converged === null ? 'unknown' : String(x.training.converged)}"><td>${esc(x.ref)}${aliasesOf(x).length ? ` <span class="muted">(as ${esc(aliasesOf(x).join(', '))})</span>` : ''}</td><td>${esc(x.training.text)}</td><td><code>${esc(x.hash.slice(0, 12))}</code></td></tr>`).join('\n')}
</tbody></table>
<p class="muted">The training status each model's folder records (a zoo folder's status.json, a run folder's state.json); the hash covers its weights and model config (the cache key).</p>` : '';
  const png = (b: Buffer) => `data:image/png;base64,${b.toString('base64')}`;
  const grids = o.grids.map((g) => `<h3>${esc(g.experiment)} / ${esc(g.model)}</h3>` +
    (g.samples ? `<figure><img alt="samples of ${esc(g.model)}" src="${png(g.samples)}"><figcaption>prior samples (decoder means, BN running statistics)</figcaption></figure>` : '') +
    g.recon.map((x) => `<figure style="display:inline-block"><img alt="reconstructions of ${esc(x.set)}" src="${png(x.png)}"><figcaption>${esc(x.set)}: inputs (top), reconstructions (bottom)</figcaption></figure>`).join('')).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oodgen benchmark: ${esc(s.name)}</title>
<link rel="icon" href="data:,">
<style>${CSS}</style></head>
<body>
<h1>oodgen benchmark: ${esc(s.name)}</h1>
<p>${esc(s.description)}</p>
<p class="muted">Command: <code>${esc(o.command)}</code>. Units: ${r.counts.planned} planned, ${r.counts.computed} computed, ${r.counts.cached} cached${r.interrupted ? ' (<b>interrupted</b>: rerun to finish)' : ''}.
At most ${s.limit} images per set; detectors fitted on at most ${s.fitLimit} ID validation images (no OoD data); ${s.bootstrap > 0 ? `95% bootstrap intervals (${s.bootstrap} replicates) in brackets` : 'no bootstrap'}.
Higher score = more OoD; OoD is the positive class.
<span class="kind per-sample">per-sample</span> detectors score each image alone; <span class="kind batch">batch</span> detectors score a whole batch of one set.
Click a column to sort, a row for its histograms and ROC curve.</p>
${claimsHtml}
${claimsHtml ? '<h2>Results</h2>' : ''}
<div class="scroll"><table id="results"><thead><tr></tr></thead><tbody></tbody></table></div>
<div id="detail"></div>
${latentHtml}
${modelsHtml}
<h2>Published figures on these pairs</h2>
${pub.length ? `<table id="published"><thead><tr><th>pair</th><th>method</th><th>AUROC</th><th>source</th></tr></thead><tbody>
${pub.map((p) => `<tr><td>${esc(p.pair)}</td><td>${esc(p.method)}</td><td class="num">${p.auroc.toFixed(2)}</td><td>[${esc(p.source)}]</td></tr>`).join('\n')}
</tbody></table>` : '<p class="muted">None of the pairs run has a published figure in src/benchmark/published.ts.</p>'}
<ul>${SOURCES.map((x) => `<li>[${esc(x.key)}] ${esc(x.citation)}</li>`).join('')}</ul>
${grids ? `<h2>Samples and reconstructions</h2><div class="grids">${grids}</div>` : ''}
${r.skipped.length ? `<h2>Skipped</h2><ul id="skipped">${r.skipped.map((x) => `<li>${esc(x.what)}: ${esc(x.why)}</li>`).join('')}</ul>` : ''}
${s.notes.length ? `<h2>Notes</h2><ul>${s.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<script type="application/json" id="data">${json}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}

export type { BenchRow };
