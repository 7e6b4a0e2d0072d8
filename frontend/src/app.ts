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

wireAutosubmit(document);
wireRoleToggle(document);
wireClassroomSocket(document);
