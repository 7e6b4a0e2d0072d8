// Small progressive enhancements for server-rendered pages. Every page works without it.

/** Submit the language switcher as soon as a language is picked. */
function wireAutosubmit(root: ParentNode): void {
  root.querySelectorAll<HTMLFormElement>("form[data-autosubmit]").forEach((form) => {
    form.querySelectorAll("select").forEach((select) => {
      select.addEventListener("change", () => form.requestSubmit());
    });
  });
}

/** Show the school fields of the sign-up form only to teachers. */
function wireRoleToggle(root: ParentNode): void {
  const form = root.querySelector<HTMLFormElement>("form[data-role-toggle]");
  if (!form) return;
  const teacherOnly = ["school_name", "staff_code"]
    .map((name) => form.querySelector<HTMLElement>(`[name="${name}"]`)?.closest<HTMLElement>(".field"))
    .filter((el): el is HTMLElement => el != null);
  const update = (): void => {
    const role = form.querySelector<HTMLInputElement>('input[name="role"]:checked')?.value;
    teacherOnly.forEach((el) => {
      el.hidden = role !== "teacher";
    });
  };
  form.querySelectorAll('input[name="role"]').forEach((input) => input.addEventListener("change", update));
  update();
}

/** Live roster: append students as they join, from the classroom socket. */
function wireClassroomSocket(root: ParentNode): void {
  const list = root.querySelector<HTMLElement>("[data-classroom-socket]");
  if (!list) return;
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${window.location.host}${list.dataset.classroomSocket}`;
  let delay = 1000;
  const connect = (): void => {
    const socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      delay = 1000;
      list.dataset.live = "true";
    });
    socket.addEventListener("message", (event: MessageEvent<string>) => {
      const frame = JSON.parse(event.data) as { type: string; student?: { name: string } };
      if (frame.type === "member.joined" && frame.student) {
        list.querySelector("[data-empty]")?.remove();
        const item = document.createElement("li");
        item.textContent = frame.student.name;
        list.append(item);
        const count = root.querySelector<HTMLElement>("[data-student-count]");
        if (count) count.textContent = String(list.querySelectorAll("li").length);
      }
    });
    socket.addEventListener("close", (event: CloseEvent) => {
      list.dataset.live = "false";
      // 4401/4404: not allowed; retrying cannot help.
      if (event.code === 4401 || event.code === 4404) return;
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  };
  connect();
}

/** Long form posts: disable the button and say what is happening. */
function wireBusyForms(root: ParentNode): void {
  root.querySelectorAll<HTMLFormElement>("form[data-busy-message]").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll<HTMLButtonElement>("button[type=submit]").forEach((b) => {
        b.disabled = true;
      });
      const note = document.createElement("p");
      note.setAttribute("role", "status");
      note.className = "help";
      note.textContent = form.dataset.busyMessage ?? "";
      form.append(note);
    });
  });
}

/** Poll a progress URL until the work is no longer queued or running, then reload. */
function wirePolling(root: ParentNode): void {
  const box = root.querySelector<HTMLElement>("[data-poll-url]");
  if (!box) return;
  const url = box.dataset.pollUrl as string;
  const tick = async (): Promise<void> => {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const state = (await response.json()) as { status: string; status_label: string };
        const label = box.querySelector("[data-status-label]");
        if (label) label.textContent = state.status_label;
        if (state.status !== "queued" && state.status !== "running") {
          window.location.reload();
          return;
        }
      }
    } catch {
      // Network hiccup: try again on the next tick.
    }
    window.setTimeout(tick, 2000);
  };
  window.setTimeout(tick, 2000);
}

/** Mastery bars grow from their value before the last answer to the new one. */
function wireMasteryBars(root: ParentNode): void {
  const fills = Array.from(root.querySelectorAll<HTMLElement>(".progress-fill[data-from]"));
  const moving = fills.filter((el) => el.dataset.from !== el.dataset.to);
  if (moving.length === 0) return;
  moving.forEach((el) => {
    el.style.transition = "none";
    el.style.width = `${el.dataset.from}%`;
  });
  // Two frames: the start width must be painted before the transition begins.
  window.requestAnimationFrame(() =>
    window.requestAnimationFrame(() => {
      moving.forEach((el) => {
        el.style.transition = "";
        el.style.width = `${el.dataset.to}%`;
      });
    }),
  );
}

/** A free response being graded: reload when its grade arrives on the learner socket
 * (/ws/learning/), or, if the socket is down, when polling sees it is no longer grading. */
function wireGrading(root: ParentNode): void {
  const box = root.querySelector<HTMLElement>("[data-grading-status-url]");
  if (!box) return;
  const statusUrl = box.dataset.gradingStatusUrl as string;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    window.location.reload();
  };
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}/ws/learning/`);
  socket.addEventListener("message", (event: MessageEvent<string>) => {
    const frame = JSON.parse(event.data) as { type: string };
    if (frame.type === "attempt.graded") finish();
  });
  const poll = async (): Promise<void> => {
    try {
      const response = await fetch(statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const state = (await response.json()) as { status: string | null };
        if (state.status !== "grading") {
          finish();
          return;
        }
      }
    } catch {
      // Network hiccup: the next tick tries again.
    }
    if (!done) window.setTimeout(poll, socket.readyState === WebSocket.OPEN ? 15000 : 3000);
  };
  // The grade may have landed between the page render and the socket opening.
  socket.addEventListener("open", () => void poll());
  window.setTimeout(poll, 3000);
}

wireAutosubmit(document);
wireMasteryBars(document);
wireGrading(document);
wireBusyForms(document);
wirePolling(document);
wireRoleToggle(document);
wireClassroomSocket(document);
