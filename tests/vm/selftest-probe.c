/* The probe tests/vm/selftest.sh runs in the guest (built with the host's gcc, dynamically
 * linked against glibc, like a cargo build). It checks what the harness promises:
 *   - its arguments arrive intact;
 *   - /dev/video0 is vivid's capture device (VIDIOC_QUERYCAP);
 *   - /dev/fb0 is the bochs DRM framebuffer; it paints it a solid colour, prints
 *     SCREEN-READY and holds it until SIGUSR1 (the host sends it through run-guest.sh's
 *     --control-socket once it has its QMP screendump), for at most HOLD seconds;
 *   - /sys is writable: unbinding vivid.0 makes the open fd fail with ENODEV and
 *     /dev/video0 go away; binding it again brings a working /dev/video0 back.
 * Exits 3 when everything held (an unusual status, to show it is passed through), and
 * 10 + the number of failed checks otherwise.
 *
 * usage: probe HOLD_SECONDS [ARGS...]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <linux/videodev2.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int failures;
static volatile sig_atomic_t released;

static void on_usr1(int sig) {
	(void)sig;
	released = 1;
}

#define CHECK(cond, ...)                                                                     \
	do {                                                                                     \
		if (cond) {                                                                          \
			printf("ok   ");                                                                 \
		} else {                                                                             \
			printf("FAIL ");                                                                 \
			failures++;                                                                      \
		}                                                                                    \
		printf(__VA_ARGS__);                                                                 \
		printf("\n");                                                                        \
		fflush(stdout);                                                                      \
	} while (0)

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits until path exists (want=1) or is gone (want=0); returns seconds waited or -1. */
static double wait_path(const char *path, int want, double limit) {
	double t0 = now();
	while (now() - t0 < limit) {
		if ((access(path, F_OK) == 0) == want)
			return now() - t0;
		usleep(20000);
	}
	return -1;
}

static int write_file(const char *path, const char *text) {
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

static int querycap(int fd, struct v4l2_capability *cap) {
	memset(cap, 0, sizeof *cap);
	return ioctl(fd, VIDIOC_QUERYCAP, cap);
}

int main(int argc, char **argv) {
	int hold = argc > 1 ? atoi(argv[1]) : 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=<%s>\n", i, argv[i]);

	printf("video nodes:");
	DIR *d = opendir("/dev");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strncmp(e->d_name, "video", 5) == 0)
			printf(" /dev/%s", e->d_name);
	if (d)
		closedir(d);
	printf("\n");

	/* Camera */
	struct v4l2_capability cap;
	int vfd = open("/dev/video0", O_RDWR);
	CHECK(vfd >= 0, "open /dev/video0: %s", vfd >= 0 ? "ok" : strerror(errno));
	if (vfd >= 0) {
		int r = querycap(vfd, &cap);
		CHECK(r == 0 && strcmp((char *)cap.driver, "vivid") == 0 &&
		          (cap.device_caps & V4L2_CAP_VIDEO_CAPTURE),
		      "VIDIOC_QUERYCAP: driver=%s card=%s device_caps=0x%08x", cap.driver, cap.card,
		      cap.device_caps);
	}

	/* Display */
	int ffd = open("/dev/fb0", O_RDWR);
	CHECK(ffd >= 0, "open /dev/fb0: %s", ffd >= 0 ? "ok" : strerror(errno));
	if (ffd >= 0) {
		struct fb_fix_screeninfo fix;
		struct fb_var_screeninfo var;
		int r1 = ioctl(ffd, FBIOGET_FSCREENINFO, &fix), r2 = ioctl(ffd, FBIOGET_VSCREENINFO, &var);
		CHECK(r1 == 0 && r2 == 0 && strstr(fix.id, "bochs") && var.bits_per_pixel == 32,
		      "fb0: id=%.16s %ux%u %u bpp, line %u bytes", fix.id, var.xres, var.yres,
		      var.bits_per_pixel, fix.line_length);
		if (r1 == 0 && r2 == 0 && var.bits_per_pixel == 32) {
			size_t len = (size_t)fix.line_length * var.yres;
			uint8_t *fb = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
			CHECK(fb != MAP_FAILED, "mmap fb0");
			if (fb != MAP_FAILED) {
				/* Orange, 0xRRGGBB = ff8000, in whatever bit layout the fb has. */
				uint32_t px = (0xffu >> (8 - var.red.length)) << var.red.offset |
				              (0x80u >> (8 - var.green.length)) << var.green.offset |
				              (0x00u >> (8 - var.blue.length)) << var.blue.offset;
				for (unsigned y = 0; y < var.yres; y++)
					for (unsigned x = 0; x < var.xres; x++)
						((uint32_t *)(fb + (size_t)y * fix.line_length))[x] = px;
				msync(fb, len, MS_SYNC);
				munmap(fb, len);
				printf("SCREEN-READY %ux%u ff8000\n", var.xres, var.yres);
				fflush(stdout);
				double t0 = now();
				while (!released && now() - t0 < hold)
					usleep(20000);
				printf("hold: %s after %.1f s\n", released ? "released by SIGUSR1" : "HOLD seconds passed",
				       now() - t0);
			}
		}
		close(ffd);
	}

	/* Unplug and replug through sysfs */
	if (vfd >= 0) {
		int r = write_file("/sys/bus/platform/drivers/vivid/unbind", "vivid.0");
		CHECK(r == 0, "unbind vivid.0: %s", r == 0 ? "ok" : strerror(-r));
		double gone = wait_path("/dev/video0", 0, 60);
		CHECK(gone >= 0, "/dev/video0 gone after unbind (%.2f s)", gone);
		r = querycap(vfd, &cap);
		int err = errno;
		CHECK(r < 0 && err == ENODEV, "QUERYCAP on the old fd after unbind: %s",
		      r < 0 ? strerror(err) : "succeeded");
		close(vfd);
		r = write_file("/sys/bus/platform/drivers/vivid/bind", "vivid.0");
		CHECK(r == 0, "bind vivid.0: %s", r == 0 ? "ok" : strerror(-r));
		double back = wait_path("/dev/video0", 1, 60);
		CHECK(back >= 0, "/dev/video0 back after bind (%.2f s)", back);
		vfd = open("/dev/video0", O_RDWR);
		r = vfd >= 0 ? querycap(vfd, &cap) : -1;
		CHECK(r == 0 && strcmp((char *)cap.driver, "vivid") == 0,
		      "re-opened /dev/video0 answers QUERYCAP: %s", r == 0 ? (char *)cap.card : strerror(errno));
		if (vfd >= 0)
			close(vfd);
	}

	printf("%d check(s) failed\n", failures);
	return failures ? 10 + failures : 3;
}
