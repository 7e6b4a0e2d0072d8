"""Pages where a teacher asks the model for exercise variants and reviews the survivors.

Thin: permission-checked lookup, one service call, render.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.errors import ApplicationError
from common.forms import form_add_error
from courses import selectors, variants
from courses.models import VariantBatch
from courses.rendering import render_markdown


class VariantRequestForm(forms.Form):
    count = forms.IntegerField(
        label=gettext_lazy("How many variants"),
        min_value=1,
        max_value=settings.VARIANTS_MAX_PER_REQUEST,
        initial=3,
    )


def _variant_rows(batch: VariantBatch) -> list[dict]:
    """Each kept variant with its Markdown rendered and sanitised: the text is the model's."""
    return [
        {
            "variant": variant,
            "prompt_html": render_markdown(variant.data["prompt"]),
            "solution_html": render_markdown(variant.data["solution"]),
            "hints_html": [render_markdown(h) for h in variant.data["hints"]],
        }
        for variant in batch.variants.all()
    ]


@login_required
@require_http_methods(["GET", "POST"])
def exercise_variants(request: HttpRequest, exercise_id: int) -> HttpResponse:
    exercise = selectors.exercise_get_for_editor(user=request.user, exercise_id=exercise_id)
    form = VariantRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        try:
            if form.is_valid():
                batch = variants.variant_batch_request(
                    exercise=exercise, user=request.user, count=form.cleaned_data["count"]
                )
                return redirect("courses:variant_batch", batch_id=batch.id)
            status = 400
        except ApplicationError as exc:
            status = form_add_error(form, exc)
    context = {
        "exercise": exercise,
        "lesson": exercise.lesson,
        "course": exercise.lesson.unit.course,
        "form": form,
        "supported": exercise.kind in variants.VARIANT_KINDS,
        "batches": selectors.exercise_variant_batches(exercise=exercise),
    }
    return render(request, "courses/variants.html", context, status=status)


@login_required
@require_GET
def variant_batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = selectors.variant_batch_get_for_editor(user=request.user, batch_id=batch_id)
    exercise = batch.exercise
    context = {
        "batch": batch,
        "exercise": exercise,
        "lesson": exercise.lesson,
        "course": exercise.lesson.unit.course,
        "rows": _variant_rows(batch),
        "in_progress": batch.status in (VariantBatch.Status.QUEUED, VariantBatch.Status.RUNNING),
    }
    return render(request, "courses/variant_batch.html", context)


@login_required
@require_GET
def variant_batch_status(request: HttpRequest, batch_id: int) -> JsonResponse:
    """Progress for the batch page, polled while the batch is queued or drafting."""
    batch = selectors.variant_batch_get_for_editor(user=request.user, batch_id=batch_id)
    return JsonResponse(
        {
            "status": batch.status,
            "status_label": batch.get_status_display(),
            "requested": batch.requested,
            "drafted": batch.drafted,
            "survived": batch.survived,
            "error": batch.error,
        }
    )


@login_required
@require_POST
def variant_decide(request: HttpRequest, variant_id: int) -> HttpResponse:
    variant = selectors.variant_get_for_editor(user=request.user, variant_id=variant_id)
    approve = request.POST.get("decision") == "approve"
    try:
        variants.variant_decide(variant=variant, approve=approve)
        messages.success(
            request,
            _("Added as a new draft exercise. Publish the lesson to show it.")
            if approve
            else _("Variant rejected."),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("courses:variant_batch", batch_id=variant.batch_id)
