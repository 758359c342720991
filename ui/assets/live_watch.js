// Every data.every_ms (times a random 0.5 to 1.5, so that pages opened together do not ask
// together), fetch the store's signal file at data.url ({"live": name}) and, when it names
// another model than data.shown, rerun the page: at most data.max_tries times for one change, so
// a model that cannot be loaded on this server never makes a loop.
const tries = new Map();  // signal text -> reruns asked for it (per page load, across reruns)
export default function ({ data, setTriggerValue }) {
  const check = async () => {
    try {
      const reply = await fetch(data.url, { cache: "no-store" });
      if (!reply.ok) return;
      const text = await reply.text();
      const live = JSON.parse(text).live;
      const asked = tries.get(text) || 0;
      if (typeof live === "string" && live !== data.shown && asked < data.max_tries) {
        tries.set(text, asked + 1);
        setTriggerValue("changed", live);
      }
    } catch (error) { /* offline or a half-written file: the next check asks again */ }
  };
  let timer, stopped = false;
  const later = () => {
    timer = setTimeout(async () => { await check(); if (!stopped) later(); }, data.every_ms * (0.5 + Math.random()));
  };
  later();
  return () => { stopped = true; clearTimeout(timer); };
}
