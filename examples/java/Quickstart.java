import dev.inferencekey.sdk.Backend;
import dev.inferencekey.sdk.ClientOptions;
import dev.inferencekey.sdk.DataClient;
import dev.inferencekey.sdk.ManagementClient;
import dev.inferencekey.sdk.TextRequest;
import dev.inferencekey.sdk.WorkloadSpec;
import java.time.Duration;
import java.util.Arrays;

/** The quickstart of the public API page, in Java; keys come from the environment. */
public class Quickstart {
    public static void main(String[] args) {
        try (var mgmt = ManagementClient.fromEnv(ClientOptions.builder().project("acme").build());
             var data = DataClient.fromEnv(ClientOptions.builder().project("acme").build())) {
            var ref = mgmt.ensure(WorkloadSpec.builder().name("support-bot").slug("support-bot")
                    .model("meta-llama/Llama-3.1-8B-Instruct").backend(Backend.VLLM)
                    .command("vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192").build());
            mgmt.waitUntilReady(ref.workloadSlug(), Duration.ofMinutes(10), e -> {});
            var ep = data.endpoint(ref.workloadSlug(), System.getenv("INFERENCEKEY_API_KEY"));
            var out = ep.generateText(TextRequest.builder().prompt("Hola").temperature(0.2).maxTokens(300).build());
            System.out.println(out.text() + " " + out.model());
            var emb = data.endpoint("billing", System.getenv("INFERENCEKEY_API_KEY")).embed("a", "b");
            System.out.println(emb.embeddings().size() + " vectors of " + emb.embeddings().get(0).length
                    + ", first starts " + Arrays.toString(Arrays.copyOf(emb.embeddings().get(0), 3)));
        }
    }
}
