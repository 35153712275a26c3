from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def plan_page(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html")


@login_required
def plan_upload(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html")
