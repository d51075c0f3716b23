/**
 * The source of patches/@medplum__core@5.2.13.patch: four speed-ups of @medplum/core's validator, as exact
 * replacements in its minified CommonJS bundle (dist/cjs/index.cjs, one 112 kB line, so the patch file itself
 * cannot be read). Each replacement keeps the function's answer for every input; a test
 * (packages/validation/test/medplum-patch.test.ts) rebuilds the unpatched bundle from this table and checks that
 * both give the same issues on the FHIR corpora. Why: @medplum/core's validateResource is about 60 % of the CPU of
 * translate + validate, and these four functions are half of that (bench/README.md, "Where the time goes").
 *
 *   pnpm exec tsx scripts/medplum-patch.ts <dist/cjs/index.cjs>   rewrites the file in place
 *
 * To change the patch: `pnpm patch @medplum/core@5.2.13 --edit-dir /tmp/mp`, run this script on
 * /tmp/mp/dist/cjs/index.cjs, `pnpm patch-commit /tmp/mp`. The ESM bundle is left as it is: this repository loads
 * the CommonJS one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

interface Replacement {
  /** The function in @medplum/core's TypeScript source (src/…), as named there. */
  readonly name: string;
  readonly why: string;
  /** Exact text in the 5.2.13 bundle; must occur exactly once. */
  readonly from: string;
  readonly to: string;
}

export const MEDPLUM_CORE_VERSION = '5.2.13';

export const REPLACEMENTS: readonly Replacement[] = [
  {
    name: 'getTypedPropertyValueWithSchema (fhirpath/utils.ts)',
    why:
      'It is called for every element of every schema at every object the validator visits, present or not, and ' +
      'each time re-derives the JSON keys of the element ("valueQuantity", "_valueQuantity", …) from its path and ' +
      'types: string slicing and concatenation, then property lookups with fresh strings. The keys depend only on ' +
      'the element, so they are computed once per element (WeakMap; recomputed if its path or type list changes).',
    from:
      'function ls(t,e,n){let r=t.value,i=n.type;if(!i||i.length===0)return;let o,s="undefined",a,' +
      'u=n.path.lastIndexOf("."),d=n.path.substring(u+1),l=d,f=!1;d.endsWith("[x]")&&(l=d.substring(0,d.length-3),' +
      'f=!0);for(let h of i){let b=l;if(f&&(b+=D(h.code)),o=r[b],a=r["_"+b],o!==void 0||a!==void 0){s=h.code;break}}',
    to:
      'var mbElementKeys=new WeakMap;function mbKeysOf(n,i){let c=mbElementKeys.get(n);if(c!==void 0&&c.t===i&&' +
      'c.n===i.length&&c.p===n.path)return c.k;let u=n.path.lastIndexOf("."),d=n.path.substring(u+1),l=d,f=!1;' +
      'd.endsWith("[x]")&&(l=d.substring(0,d.length-3),f=!0);let k=[];for(let h of i){let b=l;f&&(b+=D(h.code));' +
      'k.push(b,"_"+b,h.code)}mbElementKeys.set(n,{t:i,n:i.length,p:n.path,k});return k}' +
      'function ls(t,e,n){let r=t.value,i=n.type;if(!i||i.length===0)return;let o,s="undefined",a,k=mbKeysOf(n,i);' +
      'for(let j=0;j<k.length;j+=3)if(o=r[k[j]],a=r[k[j+1]],o!==void 0||a!==void 0){s=k[j+2];break}',
  },
  {
    name: 'getNestedProperty (typeschema/crawler.ts)',
    why:
      'The crawler calls it with a plain element name for every schema element of every object; splitting that ' +
      'name on "." and destructuring the pieces allocates two arrays per call for a one-piece path.',
    from: 'let r=n?.withPath?qn:N,[i,...o]=e.split("."),s=[r(t,i,n)];',
    to: 'let r=n?.withPath?qn:N;if(e.indexOf(".")===-1)return[r(t,e,n)];let[i,...o]=e.split("."),s=[r(t,i,n)];',
  },
  {
    name: 'checkObjectForNull (typeschema/validation.ts)',
    why:
      'It walks the whole resource before validation and built, for every member, its path string and the name ' +
      'of its primitive-extension twin ("_x" / "x"), although both are only needed when a null or undefined is ' +
      'found. They are now built only then; the walk and the issues are the same.',
    from:
      'function oi(t,e,n){for(let[r,i]of Object.entries(t)){let o=`${e}.${r}`,s=r.startsWith("_")?r.slice(1):`_${r}`;' +
      'if(i===null)n.push(E(o,"Invalid null value"));else if(Array.isArray(i))for(let a=0;a<i.length;a++)' +
      'i[a]===void 0?n.push(E(`${o}[${a}]`,"Invalid undefined value")):i[a]===null&&!t[s]?.[a]?' +
      'n.push(E(`${o}[${a}]`,"Invalid null value")):i[a]&&oi(i[a],`${o}[${a}]`,n);' +
      'else typeof i=="object"&&oi(i,o,n)}}',
    to:
      'function oi(t,e,n){for(let r of Object.keys(t)){let i=t[r];if(i===null)n.push(E(`${e}.${r}`,"Invalid null value"));' +
      'else if(Array.isArray(i)){let o,s;for(let a=0;a<i.length;a++){let c=i[a];if(c===void 0)' +
      'n.push(E(`${o??=`${e}.${r}`}[${a}]`,"Invalid undefined value"));else if(c===null){s??=r.startsWith("_")?' +
      'r.slice(1):`_${r}`;t[s]?.[a]||n.push(E(`${o??=`${e}.${r}`}[${a}]`,"Invalid null value"))}' +
      'else c&&oi(c,`${o??=`${e}.${r}`}[${a}]`,n)}}else typeof i=="object"&&oi(i,`${e}.${r}`,n)}}',
  },
  {
    name: 'isChoiceOfType (typeschema/validation.ts)',
    why:
      'checkAdditionalProperties asks it about every member of every object, and it splits the name with a ' +
      'regular expression each time. It can only answer yes when the name starts with one of the type\'s "[x]" ' +
      'element names, so those are listed once per schema and every other name is answered at once.',
    from: 'function _u(t,e,n){let r="";',
    to:
      'var mbChoicePrefixes=new WeakMap;function _u(t,e,n){let c=mbChoicePrefixes.get(n);if(c===void 0){c=[];' +
      'for(let k in n)k.endsWith("[x]")&&c.push(k.slice(0,-3));mbChoicePrefixes.set(n,c)}' +
      'let q=e.startsWith("_")?e.slice(1):e;if(!c.some(x=>q.startsWith(x)))return;let r="";',
  },
];

function occurrences(text: string, part: string): number {
  let count = 0;
  for (let at = text.indexOf(part); at !== -1; at = text.indexOf(part, at + part.length)) {
    count++;
  }
  return count;
}

/** Applies (or, with `reverse`, undoes) every replacement; throws unless each one matches exactly once. */
function applyReplacements(source: string, reverse = false): string {
  let out = source;
  for (const r of REPLACEMENTS) {
    const [from, to] = reverse ? [r.to, r.from] : [r.from, r.to];
    const found = occurrences(out, from);
    if (found !== 1) {
      throw new Error(
        `${r.name}: expected its ${reverse ? 'patched' : 'original'} text exactly once in the bundle, found it ` +
          `${found} times (is this @medplum/core ${MEDPLUM_CORE_VERSION}${reverse ? ', patched' : ', unpatched'}?)`,
      );
    }
    out = out.replace(from, () => to);
  }
  return out;
}

/**
 * The installed (patched) bundle at `bundlePath` with the replacements undone, loaded as a second, separate module
 * instance: the test compares its answers with the patched one's, the benchmark its speed. It has its own type
 * index: the caller indexes the definitions it needs (indexStructureDefinitionBundle).
 */
export function loadUnpatchedCore<T>(bundlePath: string): T {
  const source = applyReplacements(readFileSync(bundlePath, 'utf8'), true);
  const loaded = { exports: {} as T };
  const wrapper = new Function('exports', 'require', 'module', '__filename', '__dirname', source) as (
    ...args: unknown[]
  ) => void;
  wrapper(loaded.exports, createRequire(bundlePath), loaded, bundlePath, dirname(bundlePath));
  return loaded.exports;
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: tsx scripts/medplum-patch.ts <@medplum/core dist/cjs/index.cjs>');
    process.exit(2);
  }
  writeFileSync(file, applyReplacements(readFileSync(file, 'utf8')));
  console.log(`patched ${file}: ${REPLACEMENTS.map((r) => r.name.split(' ')[0]).join(', ')}`);
}
