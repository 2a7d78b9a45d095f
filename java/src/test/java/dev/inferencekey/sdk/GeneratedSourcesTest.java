package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The committed exception classes are what the schema generates today. */
class GeneratedSourcesTest {
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path PACKAGE = Path.of("src/main/java/dev/inferencekey/sdk");

    @Test
    void exceptionClassesMatchTheSchema() throws IOException {
        Map<String, String> files = ErrorsGenerator.generate(ROOT.resolve("include/inferencekey.schema.json"));
        boolean regenerate = "1".equals(System.getenv("INFERENCEKEY_REGENERATE"));
        for (Map.Entry<String, String> f : files.entrySet()) {
            Path path = PACKAGE.resolve(f.getKey());
            if (regenerate) {
                Files.writeString(path, f.getValue(), StandardCharsets.UTF_8);
            }
            String committed = Files.exists(path) ? Files.readString(path, StandardCharsets.UTF_8) : "";
            assertEquals(f.getValue(), committed,
                    path + " is out of date: run INFERENCEKEY_REGENERATE=1 mvn test -Dtest=GeneratedSourcesTest");
        }
    }
}
